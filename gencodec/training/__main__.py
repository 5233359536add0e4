"""``python -m gencodec.training <stage> --run DIR --minutes M``."""

from gencodec.cli.train import train_main

if __name__ == "__main__":
    train_main()
