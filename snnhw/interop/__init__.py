"""Model exchange with other frameworks through NIR (docs/nir.md): ``nir_read`` (a NIR graph
-> snnhw architecture and float weights, with ``conventions``: how each exporter discretises
its neurons), ``importer`` (graph + test data -> a checked ``model.pt`` payload, the input of
every later stage) and ``nir_write`` (``model.pt`` -> a NIR graph other frameworks load)."""
