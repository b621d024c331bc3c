"""Training-time augmentation: SpecAugment and mixup, waveform and phone-codec augmentation, generated household sounds and laughter."""
