"""The library of the research side: data, degradation, losses, training loops, evaluation, reporting, open set.

Commands (``train/*.py``) and studies (``train/studies/*.py``) parse their arguments and call these modules; a
module here never imports a command.
"""
