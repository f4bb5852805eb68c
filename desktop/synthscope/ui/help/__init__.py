"""Help for the person leading a class: the workshop guide and the pupils' worksheet."""
