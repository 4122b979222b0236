"""snnhw: spiking neural networks from PyTorch to bit-exact open-source FPGA hardware.

The flow runs one way, one module per stage::

    train (snnhw.nn, snnhw.data, snnhw.train) -> model.pt
    quantize (snnhw.quant)                    -> IR (snnhw.ir)
    golden model (snnhw.golden)               <- IR   (the integer specification)
    generate (snnhw.hdl)                      <- IR   -> Verilog + memory images
    verify (snnhw.cosim, sim/)                <- Verilog + golden vectors
    report (snnhw.report), synthesise (snnhw.synth)
"""

__version__ = "0.1.0"


class SnnhwError(Exception):
    """An error the user can fix; the CLI prints its message as one line and exits non-zero."""
