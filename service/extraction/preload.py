"""Imported by the multiprocessing forkserver before it forks any sandbox child.

Importing unstructured and loading spaCy takes ~3 s; done once here, every child (and every
replacement for a child that crashed or timed out) starts as a copy-on-write fork in ~0.1 s.
"""

from service.extraction.child import limit_threads, warm_up

limit_threads()
warm_up()
