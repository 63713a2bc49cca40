"""The sandbox: the ``Sandbox`` contract (``base.py``) and the hardened Docker backend."""
