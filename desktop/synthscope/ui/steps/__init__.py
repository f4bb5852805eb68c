"""The step panels: the text, the chances, what each sampler did, the dice, stage by stage, and the part that decides which step they show."""
