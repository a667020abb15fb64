"""The method code: adapter families on one contract (methods.py), injection, regimes, parameter accounting, save/load.

Imports only torch, transformers and safetensors. A new adapter family is one module (its config, site and
``attach``) plus one entry in ``inject.METHODS``; see ``lora.py`` for a complete example.
"""
