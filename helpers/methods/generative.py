"""Notebook 14: a class-conditional VAE small enough to train on a laptop CPU at 32x32 pixels.

A variational autoencoder (Kingma & Welling 2013, arXiv:1312.6114) learns an encoder
q(z | x, y) and a decoder p(x | z, y) by maximising the evidence lower bound; given the label y
as an extra input to both (a conditional VAE), it can be asked for a cat or a dog: decode
z ~ N(0, I) with the label you want. Its samples are new images that can be labelled by the
classifier, filtered by confidence and added to training like any pseudo-labelled image.

The decoder is a Gaussian with a fixed standard deviation ``sigma`` on the 0..1 pixel scale, so
the reconstruction term of the loss is a sum of squared errors divided by 2 sigma^2 (up to a
constant); a smaller ``sigma`` trusts the pixels more and the prior less.
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..train import get_device, progress_bar, set_seed


class ConditionalVAE(nn.Module):
    """Encoder: three stride-2 convolutions (32 -> 16 -> 8 -> 4 pixels), then, with the one-hot
    label, a linear layer to the mean and log-variance of z. Decoder: z and the one-hot label,
    a linear layer back to 4 x 4 feature maps, three stride-2 transposed convolutions to
    3 x 32 x 32, a sigmoid: pixel values in 0..1. (Any ``image_size`` divisible by 8.)"""

    def __init__(self, num_classes: int = 2, latent: int = 32, width: int = 32, image_size: int = 32):
        super().__init__()
        if image_size % 8 or image_size < 8:
            raise ValueError(f"image_size must be a multiple of 8, not {image_size}")
        self.num_classes, self.latent, self.image_size = num_classes, latent, image_size
        w, side = width, image_size // 8
        cells = 4 * w * side * side
        self.encoder = nn.Sequential(
            nn.Conv2d(3, w, 4, 2, 1), nn.BatchNorm2d(w), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2), nn.Flatten())
        self.to_stats = nn.Linear(cells + num_classes, 2 * latent)
        self.from_latent = nn.Sequential(nn.Linear(latent + num_classes, cells), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (4 * w, side, side)),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, 3, 4, 2, 1), nn.Sigmoid())

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in 0..1 and labels -> the mean and log-variance of q(z | x, y)."""
        stats = self.to_stats(torch.cat([self.encoder(x), F.one_hot(y, self.num_classes).float()], 1))
        return stats.chunk(2, dim=1)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Latent codes and labels -> images in 0..1 (the decoder's mean)."""
        return self.decoder(self.from_latent(torch.cat([z, F.one_hot(y, self.num_classes).float()], 1)))

    def forward(self, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        mean, log_var = self.encode(x, y)
        z = reparameterize(mean, log_var, noise)
        return self.decode(z, y), mean, log_var


def reparameterize(mean: torch.Tensor, log_var: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """z = mean + sigma * noise with noise ~ N(0, I): a sample of q(z | x) that gradients flow through."""
    return mean + torch.exp(0.5 * log_var) * noise


def kl_to_standard_normal(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)) per row, in closed form (Kingma & Welling, appendix B):
    1/2 * sum(mean^2 + exp(log_var) - 1 - log_var)."""
    return 0.5 * (mean ** 2 + log_var.exp() - 1 - log_var).sum(1)


def vae_loss(x: torch.Tensor, recon: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor,
             sigma: float = 0.1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The negative evidence lower bound per image, averaged over the batch, without its constant:
    sum((x - recon)^2) / (2 sigma^2) + KL. Returns (loss, reconstruction term, KL term)."""
    reconstruction = ((x - recon) ** 2).flatten(1).sum(1) / (2 * sigma ** 2)
    kl = kl_to_standard_normal(mean, log_var)
    return (reconstruction + kl).mean(), reconstruction.mean(), kl.mean()


# Eleven settings: the VAE's own (latent, width, sigma) and its training's, each a field of GenerativeRun
# that notebook 14 may turn; an options object would hide them from the reader.
def train_cvae(x: torch.Tensor, y: torch.Tensor, num_classes: int, *, epochs: int = 60, latent: int = 32,
               width: int = 32, sigma: float = 0.1, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
               progress: bool = True) -> tuple[ConditionalVAE, dict[str, list[float]]]:
    """Train a conditional VAE on uint8 images ``x`` with labels ``y`` (each batch mirrored at
    random, left to right) with Adam under a cosine learning rate. Returns the model, in eval
    mode, and its per-epoch history of the loss and its two terms (nats per image)."""
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need as many labels as images, and at least one (got {len(x)} images, {len(y)} labels)")
    set_seed(seed)
    device = get_device()
    vae = ConditionalVAE(num_classes, latent, width, x.shape[-1]).to(device)
    images, labels = x.to(device).float() / 255, y.to(device)
    steps_per_epoch = math.ceil(len(x) / batch_size)
    optimizer = torch.optim.Adam(vae.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)
    history: dict[str, list[float]] = {"epoch": [], "loss": [], "reconstruction": [], "kl": [], "seconds": []}
    start = time.perf_counter()
    for epoch in progress_bar(range(1, epochs + 1), desc="cVAE", unit="epoch", disable=not progress):
        vae.train()
        sums = torch.zeros(3)
        for batch in torch.randperm(len(x), device=device).split(batch_size):
            xb = images[batch]
            flip = torch.rand(len(batch), device=device) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            recon, mean, log_var = vae(xb, labels[batch], torch.randn(len(batch), latent, device=device))
            loss, reconstruction, kl = vae_loss(xb, recon, mean, log_var, sigma)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            sums += torch.tensor([loss.item(), reconstruction.item(), kl.item()]) * len(batch)
        for name, value in zip(("loss", "reconstruction", "kl"), (sums / len(x)).tolist()):
            history[name].append(value)
        history["epoch"].append(epoch)
        history["seconds"].append(time.perf_counter() - start)
    return vae.eval(), history


@torch.no_grad()
def sample(vae: ConditionalVAE, labels: torch.Tensor, seed: int = 0, temperature: float = 1.0) -> torch.Tensor:
    """New images, one per label asked for: decode z ~ N(0, temperature^2 I) with that label.
    Returns uint8 images N x 3 x 32 x 32 (the VAE's size), like the course's data. The random draw is ``seed``'s
    alone: the global random state is left as it was."""
    device = next(vae.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    z = temperature * torch.randn(len(labels), vae.latent, generator=generator)
    vae.eval()
    images = torch.cat([vae.decode(zb.to(device), yb.to(device)) for zb, yb in
                        zip(z.split(500), labels.split(500))]) if len(labels) else torch.zeros(0, 3, vae.image_size, vae.image_size)
    return (images * 255).round().clamp(0, 255).to(torch.uint8).cpu()


@torch.no_grad()
def nearest_neighbours(queries: torch.Tensor, references: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each uint8 query image, the index of the closest reference image in pixel space
    (Euclidean, 0..1 scale) and that distance per pixel (root mean square): does the generator
    copy its training images, or make new ones?"""
    q = queries.flatten(1).float() / 255
    r = references.flatten(1).float() / 255
    distances = torch.cdist(q, r)
    best, index = distances.min(1)
    return index, best / math.sqrt(q.shape[1])
