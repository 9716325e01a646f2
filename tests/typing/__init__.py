"""Files that type checkers read and nothing runs (see tests/unit/test_typed_api.py).

The package marker keeps this folder off ``sys.path`` as a folder of its own, where its
name would hide the standard library's ``typing``.
"""
