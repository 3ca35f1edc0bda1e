"""The answer path as stages: retrieve -> read -> compose -> check (pipeline.py runs them).

Each stage is one module with one job and a typed hand-over: retrieve.py (Evidence), read.py
(Selection, assistant/selection.py), compose.py (Answer), check.py (the Answer's support).
"""
