"""Training recipes (installed as ``snnhw.recipes``)."""
