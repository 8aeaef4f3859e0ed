"""Make `ansible_collections.gathewhy.ai_backend` importable in every test.

`make collection` links this checkout into .build/collections; the link is
recreated here too, so a bare `pytest` from the repo root also works.
"""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "gathewhy", "ai_backend")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(REPO, LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
