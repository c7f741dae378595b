"""Runnable demos; installed as ``gradstep.demos`` so that ``gradstep demo NAME`` finds them."""
