"""The exploration document: a run's steps, their traces and settings, JSON I/O, and the generator."""
from synthscope.session.json_io import (SCHEMA_VERSION, SessionFileError, load_record, record_from_dict,
                                        record_to_dict, save_record)
from synthscope.session.record import ModelIdentity, RunRecord, Step
from synthscope.session.runner import Generator

__all__ = ["SCHEMA_VERSION", "Generator", "ModelIdentity", "RunRecord", "SessionFileError", "Step",
           "load_record", "record_from_dict", "record_to_dict", "save_record"]
