"""Generation models in torch, each a subpackage: ``notagen`` (NotaGen's architecture).

Importing this package needs no torch; loading a model does (``pip install 'mos_lab[ai]'``).
"""
