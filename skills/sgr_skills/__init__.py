"""Built-in skills of sgr-jupyter, registered through the ``sgr.skills`` entry points."""

__all__: list[str] = []
