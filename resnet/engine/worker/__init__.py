"""The worker process, one per case: its command loop (protocol), the model core every
kind of measurement shares (core), and the parent's side of it (client). Each kind of
measurement registers its own worker-side commands and step builders from its module in
resnet.engine.kinds; ``python -m resnet.engine.worker`` loads them all."""
