"""The Llama family's default model config (LiBai's ``projects/Llama/configs/llama_config.py``
names).

The sizes are a small Llama (19 M parameters with Llama 2's 32000-token vocabulary),
so nothing large is built by accident. Setting ``model.cfg.pretrained_model_path`` to a Hugging
Face directory (Llama 2/3, Mistral, Qwen2) replaces every architecture key with that
directory's ``config.json`` and starts from its weights::

    from libai.config import get_config
    llama = get_config("common/models/llama.py")
    llama.model.cfg.pretrained_model_path = "/models/TinyLlama-1.1B"
    model, tokenization = llama.model, llama.tokenization
"""

from libai.config import LazyCall
from omegaconf import DictConfig, OmegaConf

cfg = dict(
    # Model
    hidden_act="silu",
    hidden_size=256,
    initializer_range=0.02,
    intermediate_size=688,
    max_position_embeddings=1024,
    num_attention_heads=8,
    hidden_layers=4,
    num_key_value_heads=4,
    head_dim=None,
    rms_norm_eps=1e-05,
    rope_theta=10000.0,
    rope_scaling=None,
    tie_word_embeddings=False,
    attention_bias=False,
    attention_output_bias=None,
    mlp_bias=False,
    attention_dropout_prob=0.0,
    vocab_size=32000,
    use_scaled_init_for_output_weights=False,
    # Accepted for LiBai configs; on the CPU they change nothing.
    scale_mask_softmax_fusion=False,
    amp_enabled=False,
    # Inference (generation defaults read by model.generate)
    is_encoder_decoder=False,
    max_length=256,
    do_sample=False,
    num_beams=1,
    temperature=1.0,
    top_k=50,
    top_p=1.0,
    repetition_penalty=1.0,
    length_penalty=1.0,
    no_repeat_ngram_size=0,
    num_return_sequences=1,
    use_cache=True,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
    # Train: a Hugging Face directory to take the sizes and the weights from
    pretrained_model_path=None,
)

cfg = DictConfig(cfg)

model = LazyCall("models:llama")(cfg=cfg)

tokenization = OmegaConf.create()
tokenization.make_vocab_size_divisible_by = 128
# A sentencepiece tokenizer.model, a tokenizer.json, or a Hugging Face directory holding one.
tokenization.tokenizer = LazyCall("tokenizers:llama")(pretrained_model_path=None)
