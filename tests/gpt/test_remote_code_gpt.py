"""A saved GPT folder loads with stock transformers and trust_remote_code=True where hfnets is not installed."""

import json

import torch

from hfnets import CharGptConfig, CharGptForCausalLM, CharGptTokenizer
from tests.helpers.isolated import run_without_hfnets

TEXT = "O Romeo, Romeo! wherefore art thou Romeo?\n"


def test_saved_folder_loads_and_generates_without_hfnets(tmp_path):
    tokenizer = CharGptTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    model = CharGptForCausalLM(CharGptConfig(vocab_size=len(tokenizer), n_layer=2, n_head=2, n_embd=16)).eval()
    model.save_pretrained(tmp_path / "char-gpt")
    tokenizer.save_pretrained(tmp_path / "char-gpt")
    prompts = ["O Rom", "wherefore"]
    expected = model.generate(
        **tokenizer(prompts, return_tensors="pt", padding=True), max_new_tokens=12, do_sample=False
    )

    result = run_without_hfnets(
        f"""
        import json
        from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

        tokenizer = AutoTokenizer.from_pretrained("char-gpt", trust_remote_code=True)
        model = AutoModelForCausalLM.from_pretrained("char-gpt", trust_remote_code=True)
        inputs = tokenizer({prompts!r}, return_tensors="pt", padding=True)
        output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
        generator = pipeline("text-generation", model="char-gpt", trust_remote_code=True)
        text = generator("O Rom", max_new_tokens=12, do_sample=False)[0]["generated_text"]
        print(json.dumps({{"ids": output.tolist(), "text": text, "module": type(model).__module__}}))
        """,
        cwd=tmp_path,
    )
    output = json.loads(result.stdout.strip().splitlines()[-1])
    assert output["module"].startswith("transformers_modules.")
    assert output["ids"] == expected.tolist()
    assert output["text"] == tokenizer.decode(expected[0], skip_special_tokens=True)
