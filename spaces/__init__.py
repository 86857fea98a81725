"""The hfnets demos, one package each (`classifier`, `gan`, `ddpm`, `gpt`, `rnn`, `playground`, and the `gallery` that
shows them all as tabs), with what they share beside them: `settings` (which model each shows, read once at
start-up), `inputs` (checking what visitors send) and `pictures` (answers as image files).

Each demo runs from a source checkout as `python -m spaces.<demo>.app` and deploys alone as a Hugging Face Space with
`hfnets space spaces/<demo> ...`, which carries this package's shared modules and the demo's own package.
"""
