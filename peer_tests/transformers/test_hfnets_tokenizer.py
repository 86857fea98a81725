"""transformers' TokenizerTesterMixin on CharGptTokenizer, loaded from the shipped char-gpt folder."""

import os
import unittest

from hfnets import CharGptTokenizer

from .test_tokenization_common import TokenizerTesterMixin


class CharGptTokenizationTest(TokenizerTesterMixin, unittest.TestCase):
    tokenizer_class = CharGptTokenizer
    from_pretrained_id = os.path.join(os.environ["HFNETS_ROOT"], "pretrained", "char-gpt")
    test_seq2seq = False
    integration_test_input_string = "First Citizen:\nBefore we proceed any further, hear me speak."
