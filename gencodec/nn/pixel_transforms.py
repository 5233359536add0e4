"""Pixel-space analysis/synthesis transforms of the mean-scale hyperprior.

Balle et al. 2018 / Minnen et al. 2018 ("mean & scale hyperprior"):

    x --g_a--> y --h_a--> z          (x16 and x64 downsampling)
    z_hat --h_s--> (mu, sigma)       (prior parameters of y)
    y_hat --g_s--> x_hat
"""

from __future__ import annotations

from torch import nn

from gencodec.nn.gdn import GDN
from gencodec.nn.layers import conv, deconv


def analysis(n: int, m: int) -> nn.Sequential:
    return nn.Sequential(conv(3, n), GDN(n), conv(n, n), GDN(n), conv(n, n), GDN(n), conv(n, m))


def synthesis(n: int, m: int) -> nn.Sequential:
    return nn.Sequential(
        deconv(m, n),
        GDN(n, inverse=True),
        deconv(n, n),
        GDN(n, inverse=True),
        deconv(n, n),
        GDN(n, inverse=True),
        deconv(n, 3),
    )


def hyper_analysis(n: int, m: int) -> nn.Sequential:
    return nn.Sequential(
        conv(m, n, 3, 1), nn.LeakyReLU(inplace=True), conv(n, n), nn.LeakyReLU(inplace=True), conv(n, n)
    )


def hyper_synthesis(n: int, m: int) -> nn.Sequential:
    """Outputs 2*m channels: means then log-scales of y."""
    return nn.Sequential(
        deconv(n, m),
        nn.LeakyReLU(inplace=True),
        deconv(m, m * 3 // 2),
        nn.LeakyReLU(inplace=True),
        conv(m * 3 // 2, m * 2, 3, 1),
    )
