"""A recorded run read back: its config rebuilt from the record (``config.yaml`` artifact or
params, safely parsed), and its pictures redrawn from it. Used by the commands (``reproduce``,
``compare``) and by the sweep (its best trials' boundaries), so it sits below both."""
