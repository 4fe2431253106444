"""Generation models in torch, each a subpackage: ``notagen`` (NotaGen's architecture),
``musicgen`` (MusicGen and MusicGen-Melody through transformers, from a local folder).

Importing this package needs no torch; loading a model does (``pip install 'mos_lab[ai]'``).
"""
