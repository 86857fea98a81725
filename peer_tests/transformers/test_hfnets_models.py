"""transformers 5.24's own ModelTesterMixin / ConfigTester applied to the hfnets model classes (a measurement,
kept outside the project)."""

import unittest

from transformers.models.auto import modeling_auto

from hfnets import (
    CharGptConfig,
    CharGptForCausalLM,
    CharGptModel,
    CnnConfig,
    CnnForImageClassification,
    MnistMlpConfig,
    MnistMlpForImageClassification,
)

# The mixin decides which checks apply from transformers' own auto mappings; list hfnets' classes there as
# transformers lists its own.
modeling_auto.MODEL_MAPPING_NAMES["hfnets-char-gpt"] = "CharGptModel"
modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES["hfnets-char-gpt"] = "CharGptForCausalLM"
modeling_auto.MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES["hfnets-mnist-mlp"] = "MnistMlpForImageClassification"
modeling_auto.MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES["hfnets-cnn"] = "CnnForImageClassification"

from .test_configuration_common import ConfigTester  # noqa: E402  (after the mappings are extended)
from .test_modeling_common import ModelTesterMixin, floats_tensor, ids_tensor, random_attention_mask  # noqa: E402


class GptTester:
    def __init__(
        self,
        parent,
        batch_size=3,
        seq_length=7,
        vocab_size=31,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
    ):
        self.parent = parent
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.is_training = True
        self.expected_num_hidden_layers = num_hidden_layers + 1

    def get_config(self):
        return CharGptConfig(
            vocab_size=self.vocab_size,
            n_embd=self.hidden_size,
            n_layer=self.num_hidden_layers,
            n_head=self.num_attention_heads,
            n_positions=32,
            pad_token_id=0,
            eos_token_id=1,
            bos_token_id=1,
        )

    def prepare_config_and_inputs_for_common(self):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        mask = random_attention_mask([self.batch_size, self.seq_length])
        return self.get_config(), {"input_ids": input_ids, "attention_mask": mask}


class CharGptCommonTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (CharGptModel, CharGptForCausalLM)
    test_resize_embeddings = True

    def setUp(self):
        self.model_tester = GptTester(self)
        self.config_tester = ConfigTester(self, config_class=CharGptConfig, n_embd=40)

    def test_config(self):
        self.config_tester.run_common_tests()


class MlpTester:
    def __init__(self, parent, batch_size=4, image_size=28, hidden_sizes=(16, 12)):
        self.parent = parent
        self.batch_size = batch_size
        self.image_size = image_size
        self.hidden_sizes = list(hidden_sizes)
        self.num_hidden_layers = len(hidden_sizes)
        self.expected_num_hidden_layers = len(hidden_sizes)
        self.is_training = True
        self.seq_length = None

    def get_config(self):
        return MnistMlpConfig(hidden_sizes=self.hidden_sizes)

    def prepare_config_and_inputs_for_common(self):
        pixel_values = floats_tensor([self.batch_size, 1, self.image_size, self.image_size])
        return self.get_config(), {"pixel_values": pixel_values}


class MlpCommonTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (MnistMlpForImageClassification,)
    has_attentions = False
    test_resize_embeddings = False

    def setUp(self):
        self.model_tester = MlpTester(self)
        self.config_tester = ConfigTester(
            self, config_class=MnistMlpConfig, has_text_modality=False, common_properties=["hidden_sizes"]
        )

    def test_config(self):
        self.config_tester.run_common_tests()


class CnnTester(MlpTester):
    def get_config(self):
        return CnnConfig(conv_channels=[4, 8], hidden_size=16, id2label={i: str(i) for i in range(10)})

    def __init__(self, parent):
        super().__init__(parent)
        self.num_hidden_layers = 2
        self.expected_num_hidden_layers = 2


class CnnCommonTest(ModelTesterMixin, unittest.TestCase):
    all_model_classes = (CnnForImageClassification,)
    has_attentions = False
    test_resize_embeddings = False

    def setUp(self):
        self.model_tester = CnnTester(self)
        self.config_tester = ConfigTester(
            self, config_class=CnnConfig, has_text_modality=False, common_properties=["conv_channels"]
        )

    def test_config(self):
        self.config_tester.run_common_tests()
