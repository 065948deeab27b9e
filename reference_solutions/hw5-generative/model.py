"""A small variational autoencoder for 32 x 32 colour images (PyTorch)."""

from __future__ import annotations

import torch
from torch import nn

LATENT = 16


class VAE(nn.Module):
    """Encoder: image -> (mean, log-variance) of a 16-dimensional Gaussian; decoder:
    latent -> image in [0, 1] (sigmoid)."""

    def __init__(self, hidden: int = 256, latent: int = LATENT):
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32 * 3, hidden), nn.ReLU())
        self.mean = nn.Linear(hidden, latent)
        self.log_var = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 32 * 32 * 3), nn.Sigmoid()
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.mean(h), self.log_var(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents -> images, N x 32 x 32 x 3 in [0, 1]."""
        return self.decoder(z).view(-1, 32, 32, 3)

    def forward(self, x: torch.Tensor):
        mean, log_var = self.encode(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)  # reparameterisation
        return self.decode(z), mean, log_var


def vae_loss(x, reconstruction, mean, log_var):
    """Reconstruction (binary cross-entropy) plus the KL divergence to N(0, I)."""
    bce = nn.functional.binary_cross_entropy(reconstruction, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp())
    return (bce + kl) / x.shape[0]
