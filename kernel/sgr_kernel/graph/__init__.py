"""Plan graphs: DAG validation, scheduling order, and Mermaid text of a plan (``mermaid.py``)."""
