"""A LiBai user's experiment configs run unchanged (shared/DESIGN.md section 1).

The configs below are written the way LiBai's repository and tutorials write
them (``configs/common/...`` imported relatively by ``configs/bert_large_pretrain.py``,
``configs/gpt2_pretrain.py``, ``configs/vit_imagenet.py``,
``configs/bert_classification.py``; ``get_config("common/...")`` for a pip
install, docs/source/tutorials/basics/Config_System.md): the same import paths,
the same argument names. Each must load and pass ``libai-engine check``.

When a test here fails, the package is wrong, not the test: the config text is
what LiBai users already have.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

import pytest
from libai.config import LazyConfig

# ---------------------------------------------------------------- LiBai's configs/common

LIBAI_COMMON = {
    "common/models/bert.py": """
        from omegaconf import DictConfig
        from libai.config import LazyCall
        from libai.models import BertModel, BertForPreTraining

        cfg = dict(
            vocab_size=30522,
            hidden_size=768,
            hidden_layers=24,
            num_attention_heads=12,
            intermediate_size=4096,
            hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1,
            max_position_embeddings=512,
            num_tokentypes=2,
            add_pooling_layer=True,
            initializer_range=0.02,
            layernorm_eps=1e-5,
            bias_gelu_fusion=True,
            bias_dropout_fusion=True,
            scale_mask_softmax_fusion=False,
            apply_query_key_layer_scaling=True,
            apply_residual_post_layernorm=False,
            add_binary_head=True,
            amp_enabled=False,
        )

        cfg = DictConfig(cfg)

        bert_model = LazyCall(BertModel)(cfg=cfg)

        pretrain_model = LazyCall(BertForPreTraining)(cfg=cfg)
    """,
    "common/models/gpt.py": """
        from omegaconf import DictConfig
        from libai.config import LazyCall
        from libai.models import GPTModel, GPTForPreTraining

        cfg = dict(
            hidden_layers=6,
            vocab_size=30522,
            hidden_size=384,
            ffn_hidden_size=1536,
            num_attention_heads=12,
            max_seq_length=1024,
            embedding_dropout_prob=0,
            attention_dropout_prob=0,
            output_dropout_prob=0,
            layernorm_epsilon=1e-5,
            initializer_range=0.02,
            use_scaled_init_for_output_weights=True,
            bias_gelu_fusion=True,
            bias_dropout_fusion=True,
            scale_mask_softmax_fusion=True,
            apply_query_key_layer_scaling=True,
            apply_residual_post_layernorm=False,
            amp_enabled=False,
        )

        cfg = DictConfig(cfg)

        gpt_model = LazyCall(GPTModel)(cfg=cfg)

        pretrain_model = LazyCall(GPTForPreTraining)(cfg=cfg)
    """,
    "common/models/vit/vit_tiny_patch16_224.py": """
        from omegaconf import DictConfig
        from libai.config import LazyCall
        from libai.models import VisionTransformer

        cfg = dict(
            img_size=224,
            patch_size=16,
            in_chans=3,
            embed_dim=192,
            depth=12,
            num_heads=3,
            mlp_ratio=4.0,
            drop_rate=0.0,
            attn_drop_rate=0.0,
            drop_path_rate=0.0,
            num_classes=1000,
            loss_func=None,
        )

        cfg = DictConfig(cfg)

        model = LazyCall(VisionTransformer)(cfg=cfg)
    """,
    "common/models/graph.py": """
        from omegaconf import DictConfig
        from libai.config import LazyCall
        from libai.models.utils import GraphBase

        graph = dict(
            # options for graph or eager mode
            enabled=True,
            debug=-1,  # debug mode for graph
            auto_parallel=dict(
                enabled=False,
                enable_auto_parallel_ignore_user_sbp_config=False,
                trunk_algo=True,
                sbp_collector=False,
            ),
            train_graph=LazyCall(GraphBase)(
                is_train=True,
            ),
            global_mode=dict(
                enabled=False,
            ),
            eval_graph=LazyCall(GraphBase)(is_train=False),
        )

        graph = DictConfig(graph)
    """,
    "common/train.py": """
        from omegaconf import DictConfig

        from libai.config import LazyCall
        from libai.scheduler import WarmupCosineLR
        from libai.evaluation import ClsEvaluator

        # fmt: off
        train = dict(
            output_dir="./output",
            train_micro_batch_size=32,
            global_batch_size=None,
            num_accumulation_steps=None,
            train_iter=10000,
            train_epoch=0,
            consumed_train_samples=0,
            consumed_valid_samples=0,
            train_samples=None,
            warmup_ratio=0,
            start_iter=0,
            amp=dict(enabled=False),
            activation_checkpoint=dict(enabled=False),
            nccl_fusion_threshold_mb=16,
            nccl_fusion_max_ops=24,
            zero_optimization=dict(
                enabled=False,
                stage=1,
            ),
            checkpointer=dict(period=5000, max_to_keep=100),
            test_micro_batch_size=32,
            evaluation=dict(
                enabled=True,
                evaluator=LazyCall(ClsEvaluator)(topk=(1, 5)),
                eval_period=5000,
                eval_after_train=True,
                eval_iter=1e5,
                eval_metric="Acc@1",
                eval_mode="max",
            ),
            load_weight="",
            log_period=20,
            scheduler=LazyCall(WarmupCosineLR)(
                # In DefaultTrainer we will automatically set `max_iter`
                # and `warmup_iter` by the given train cfg.
                warmup_factor=0.001,
                alpha=0.01,
                warmup_method="linear",
            ),
            dist=dict(
                data_parallel_size=1,
                tensor_parallel_size=1,
                pipeline_parallel_size=1,
                pipeline_num_layers=None,
                custom_pipeline_stage_id=None,
            ),
            input_placement_device="cuda",
            rdma_enabled=True,
            seed=1234,
        )
        # fmt: on

        train = DictConfig(train)
    """,
    "common/optim.py": """
        import oneflow as flow
        from libai.optim import get_default_optimizer_params
        from libai.config import LazyCall

        optim = LazyCall(flow.optim.AdamW)(
            params=LazyCall(get_default_optimizer_params)(
                # params.model is meant to be set to the model object,
                # before instantiating the optimizer.
                clip_grad_max_norm=1.0,
                clip_grad_norm_type=2.0,
                weight_decay_norm=0.0,
                weight_decay_bias=0.0,
            ),
            lr=1e-4,
            weight_decay=0.01,
            betas=(0.9, 0.999),
            eps=1e-8,
            do_bias_correction=True,
        )
    """,
    "common/data/bert_dataset.py": """
        from libai.config import LazyCall
        from omegaconf import OmegaConf
        from libai.data import build_nlp_test_loader, build_nlp_train_val_test_loader
        from libai.data.datasets import BertDataset
        from libai.data.data_utils import get_indexed_dataset

        from libai.tokenizer import BertTokenizer


        tokenization = OmegaConf.create()

        tokenization.tokenizer = LazyCall(BertTokenizer)(
            vocab_file="bert-base-chinese-vocab.txt",
            do_lower_case=True,
            do_chinese_wwm=True,
        )
        tokenization.append_eod = False
        tokenization.make_vocab_size_divisible_by = 128

        dataloader = OmegaConf.create()

        dataloader.train = LazyCall(build_nlp_train_val_test_loader)(
            dataset=[
                LazyCall(BertDataset)(
                    name="bert",
                    data_prefix="/workspace/data/libai_dataset/loss_compara_content_sentence",
                    indexed_dataset=LazyCall(get_indexed_dataset)(
                        data_prefix="/workspace/data/libai_dataset/loss_compara_content_sentence",
                        data_impl="mmap",
                        skip_warmup=False,
                    ),
                    max_seq_length=512,
                    mask_lm_prob=0.15,
                    short_seq_prob=0.1,
                    binary_head=True,
                    seed=1234,
                    masking_style="bert-cn-wwm",
                ),
            ],
            train_val_test_num_samples=None,  # a hint for deferred assignment
            splits=[[949.0, 50.0, 1.0]],
            weights=[1.0],
            num_workers=4,
        )
    """,
    "common/data/gpt_dataset.py": """
        from libai.config import LazyCall
        from omegaconf import OmegaConf
        from libai.data import build_nlp_test_loader, build_nlp_train_val_test_loader
        from libai.data.datasets import GPT2Dataset
        from libai.data.data_utils import get_indexed_dataset

        from libai.tokenizer import GPT2Tokenizer


        tokenization = OmegaConf.create()

        tokenization.tokenizer = LazyCall(GPT2Tokenizer)(
            vocab_file="/workspace/data/gpt_dataset/gpt2-vocab.json",
            merges_file="/workspace/data/gpt_dataset/gpt2-merges.txt",
            do_lower_case=True,
            do_chinese_wwm=True,
        )
        tokenization.append_eod = False
        tokenization.make_vocab_size_divisible_by = 128

        dataloader = OmegaConf.create()

        dataloader.train = LazyCall(build_nlp_train_val_test_loader)(
            dataset=[
                LazyCall(GPT2Dataset)(
                    name="gpt-2",
                    data_prefix="/workspace/data/libai_dataset/loss_compara_content_sentence",
                    indexed_dataset=LazyCall(get_indexed_dataset)(
                        data_prefix="/workspace/data/libai_dataset/loss_compara_content_sentence",
                        data_impl="mmap",
                        skip_warmup=False,
                    ),
                    max_seq_length=1024,
                    seed=1234,
                ),
            ],
            train_val_test_num_samples=None,  # a hint for deferred assignment
            splits=[[949.0, 50.0, 1.0]],
            weights=[1.0],
            num_workers=4,
        )

        dataloader.test = [
            LazyCall(build_nlp_test_loader)(
                dataset=LazyCall(GPT2Dataset)(
                    name="gpt-2",
                    data_prefix="/workspace/data/libai_dataset/loss_compara_content_sentence",
                    indexed_dataset=LazyCall(get_indexed_dataset)(
                        data_prefix="/workspace/data/libai_dataset/loss_compara_content_sentence",
                        data_impl="mmap",
                        skip_warmup=False,
                    ),
                    max_seq_length=1024,
                    max_num_samples=10,
                ),
                test_batch_size=4,
            )
        ]
    """,
    "common/data/imagenet.py": """
        from omegaconf import OmegaConf
        from flowvision import transforms
        from flowvision.transforms import InterpolationMode
        from flowvision.transforms.functional import str_to_interp_mode
        from flowvision.data.constants import (
            IMAGENET_DEFAULT_MEAN,
            IMAGENET_DEFAULT_STD,
        )
        from flowvision.data.auto_augment import rand_augment_transform
        from flowvision.data.random_erasing import RandomErasing

        from libai.config import LazyCall
        from libai.data.datasets import ImageNetDataset
        from libai.data.build import build_image_train_loader, build_image_test_loader

        train_aug = LazyCall(transforms.Compose)(
            transforms=[
                LazyCall(transforms.RandomResizedCrop)(
                    size=224,
                    scale=(0.08, 1.0),
                    ratio=(3.0 / 4.0, 4.0 / 3.0),
                    interpolation=InterpolationMode.BICUBIC,
                ),
                LazyCall(transforms.RandomHorizontalFlip)(p=0.5),
                LazyCall(rand_augment_transform)(
                    config_str="rand-m9-mstd0.5-inc1",
                    hparams=dict(
                        translate_const=int(224 * 0.45),
                        img_mean=tuple([min(255, round(255 * x)) for x in IMAGENET_DEFAULT_MEAN]),
                        interpolation=str_to_interp_mode("bicubic"),
                    ),
                ),
                LazyCall(transforms.ToTensor)(),
                LazyCall(transforms.Normalize)(
                    mean=IMAGENET_DEFAULT_MEAN,
                    std=IMAGENET_DEFAULT_STD,
                ),
                LazyCall(RandomErasing)(
                    probability=0.25,
                    mode="pixel",
                    max_count=1,
                    num_splits=0,
                    device="cpu",
                ),
            ]
        )

        test_aug = LazyCall(transforms.Compose)(
            transforms=[
                LazyCall(transforms.Resize)(
                    size=256,
                    interpolation=InterpolationMode.BICUBIC,
                ),
                LazyCall(transforms.CenterCrop)(
                    size=224,
                ),
                LazyCall(transforms.ToTensor)(),
                LazyCall(transforms.Normalize)(
                    mean=IMAGENET_DEFAULT_MEAN,
                    std=IMAGENET_DEFAULT_STD,
                ),
            ]
        )

        dataloader = OmegaConf.create()
        dataloader.train = LazyCall(build_image_train_loader)(
            dataset=[
                LazyCall(ImageNetDataset)(
                    root="./dataset",
                    train=True,
                    transform=train_aug,
                ),
            ],
            num_workers=4,
            mixup_func=None,
        )

        dataloader.test = [
            LazyCall(build_image_test_loader)(
                dataset=LazyCall(ImageNetDataset)(
                    root="./dataset",
                    train=False,
                    transform=test_aug,
                ),
                num_workers=4,
            )
        ]
    """,
}

# ---------------------------------------------------------------- LiBai's experiment configs

LIBAI_EXPERIMENTS = {
    # configs/bert_large_pretrain.py
    "bert_large_pretrain.py": """
        from .common.models.bert import pretrain_model as model
        from .common.models.graph import graph
        from .common.train import train
        from .common.optim import optim
        from .common.data.bert_dataset import dataloader, tokenization

        vocab_file = "./data_test/bert_data/bert-base-chinese-vocab.txt"
        data_prefix = "./data_test/bert_data/loss_compara_content_sentence"

        tokenization.tokenizer.vocab_file = vocab_file
        dataloader.train.dataset[0].data_prefix = data_prefix
        dataloader.train.dataset[0].indexed_dataset.data_prefix = data_prefix

        # Bert-large model config
        model.cfg.num_attention_heads = 16
        model.cfg.hidden_size = 768
        model.cfg.hidden_layers = 8

        train.input_placement_device = "cpu"

        train.dist.pipeline_num_layers = model.cfg.hidden_layers

        train.train_micro_batch_size = 16

        train.amp.enabled = True

        for ds in dataloader.train.dataset:
            ds.max_seq_length = model.cfg.max_position_embeddings

        train.evaluation.evaluator.topk = (1,)

        train.output_dir = "output/bert_output"
    """,
    # configs/gpt2_pretrain.py
    "gpt2_pretrain.py": """
        from libai.config import LazyCall
        from libai.evaluation import PPLEvaluator
        from .common.models.gpt import pretrain_model as model
        from .common.train import train
        from .common.optim import optim
        from .common.data.gpt_dataset import dataloader, tokenization

        from .common.models.graph import graph

        vocab_file = "./data_test/gpt_data/gpt2-vocab.json"
        merge_files = "./data_test/gpt_data/gpt2-merges.txt"
        data_prefix = "./data_test/gpt_data/loss_compara_content_sentence"

        tokenization.tokenizer.vocab_file = vocab_file
        tokenization.tokenizer.merges_file = merge_files
        dataloader.train.dataset[0].data_prefix = data_prefix
        dataloader.train.dataset[0].indexed_dataset.data_prefix = data_prefix
        dataloader.test[0].dataset.data_prefix = data_prefix
        dataloader.test[0].dataset.indexed_dataset.data_prefix = data_prefix

        # GPT-2 model config
        model.cfg.embedding_dropout_prob = 0.1
        model.cfg.attention_dropout_prob = 0.1
        model.cfg.num_attention_heads = 16
        model.cfg.hidden_size = 384
        model.cfg.ffn_hidden_size = 1536
        model.cfg.hidden_layers = 6
        model.cfg.max_seq_length = 1024

        train.input_placement_device = "cpu"

        train.dist.pipeline_num_layers = model.cfg.hidden_layers

        for ds in dataloader.train.dataset:
            ds.max_seq_length = model.cfg.max_seq_length

        optim.lr = 1.5e-4

        train.train_micro_batch_size = 4
        train.amp.enabled = True

        train.evaluation.evaluator = LazyCall(PPLEvaluator)()

        train.output_dir = "./output/gpt2_output"
    """,
    # configs/bert_classification.py
    "bert_classification.py": """
        from libai.config import LazyCall
        from libai.models.bert_model import BertForClassification
        from .common.models.bert import cfg as bert_cfg
        from .common.models.graph import graph
        from .common.train import train
        from .common.optim import optim
        from .common.data.bert_dataset import tokenization, dataloader

        vocab_file = "./data_test/bert_data/bert-base-chinese-vocab.txt"
        data_prefix = "./data_test/bert_data/loss_compara_content_sentence"

        dataloader.train.dataset[0].data_prefix = data_prefix
        dataloader.train.dataset[0].indexed_dataset.data_prefix = data_prefix

        bert_cfg["num_labels"] = 2
        bert_cfg["classifier_dropout"] = 0.1

        model = LazyCall(BertForClassification)(cfg=bert_cfg)
        tokenization.tokenizer.vocab_file = vocab_file

        model.cfg.vocab_size = 21128
        model.cfg.intermediate_size = 3072
        model.cfg.num_attention_heads = 12
        model.cfg.hidden_layers = 12
        model.cfg.hidden_size = 768

        train.amp.enabled = True
        train.activation_checkpoint.enabled = True
        train.dist.pipeline_num_layers = model.cfg.hidden_layers

        train.output_dir = "output/bert_classification_output"
    """,
    # configs/vit_imagenet.py (without LiBai's per-host data paths)
    "vit_imagenet.py": """
        from libai.config import LazyCall
        from .common.models.vit.vit_tiny_patch16_224 import model
        from .common.models.graph import graph
        from .common.train import train
        from .common.optim import optim
        from .common.data.imagenet import dataloader

        from flowvision.data import Mixup
        from flowvision.loss.cross_entropy import SoftTargetCrossEntropy

        # Refine data path to imagenet
        dataloader.train.dataset[0].root = "/path/to/imagenet"
        dataloader.test[0].dataset.root = "/path/to/imagenet"

        # Refine model cfg for vit training on imagenet
        model.cfg.num_classes = 1000
        model.cfg.loss_func = SoftTargetCrossEntropy()

        # Add Mixup Func
        dataloader.train.mixup_func = LazyCall(Mixup)(
            mixup_alpha=0.8,
            cutmix_alpha=1.0,
            prob=1.0,
            switch_prob=0.5,
            mode="batch",
            num_classes=model.cfg.num_classes,
        )

        # Refine optimizer cfg for vit model
        optim.lr = 1e-3  # 5e-4 * 1024 (batchsize) / 512
        optim.eps = 1e-8
        optim.weight_decay = 0.05
        optim.params.clip_grad_max_norm = None
        optim.params.clip_grad_norm_type = None
        optim.params.overrides = {"pos_embed": {"weight_decay": 0.0}, "cls_token": {"weight_decay": 0.0}}

        # Refine train cfg for vit model
        train.train_micro_batch_size = 128
        train.test_micro_batch_size = 128
        train.train_epoch = 300
        train.warmup_ratio = 5 / 300
        train.evaluation.eval_period = 1000
        train.log_period = 1

        # Scheduler
        train.scheduler.warmup_factor = 0.001
        train.scheduler.alpha = 0.01
        train.scheduler.warmup_method = "linear"

        # Set fp16 ON
        train.amp.enabled = True

        # Distributed Settings
        train.dist.pipeline_num_layers = model.cfg.depth
        train.dist.data_parallel_size = 1
        train.dist.tensor_parallel_size = 1
        train.dist.pipeline_parallel_size = 1
    """,
}

# The docs' "If you install LiBai by pip" form: every namespace from get_config.
GET_CONFIG_EXPERIMENTS = {
    "bert_pip.py": """
        from libai.config import get_config
        # get config
        model = get_config("common/models/bert.py").pretrain_model
        graph = get_config("common/models/graph.py").graph
        train = get_config("common/train.py").train
        optim = get_config("common/optim.py").optim
        dataloader = get_config("common/data/bert_dataset.py").dataloader
        tokenization = get_config("common/data/bert_dataset.py").tokenization

        # modify it
        train.train_iter = 100
        model.cfg.hidden_layers = 4
        train.dist.pipeline_num_layers = model.cfg.hidden_layers
        train.amp.enabled = True
        train.activation_checkpoint.enabled = True
        tokenization.tokenizer.do_lower_case = False
        dataloader.train.dataset[0].max_seq_length = 256
        dataloader.train.num_workers = 2
    """,
    "gpt_pip.py": """
        from libai.config import LazyCall, get_config
        from libai.evaluation import PPLEvaluator

        model = get_config("common/models/gpt.py").pretrain_model
        graph = get_config("common/models/graph.py").graph
        train = get_config("common/train.py").train
        optim = get_config("common/optim.py").optim
        dataloader = get_config("common/data/gpt_dataset.py").dataloader
        tokenization = get_config("common/data/gpt_dataset.py").tokenization

        model.cfg.hidden_layers = 6
        train.dist.pipeline_num_layers = model.cfg.hidden_layers
        for ds in dataloader.train.dataset:
            ds.max_seq_length = model.cfg.max_seq_length
        optim.lr = 1.5e-4
        train.evaluation.evaluator = LazyCall(PPLEvaluator)()
    """,
    "vit_pip.py": """
        from libai.config import LazyCall, get_config
        from flowvision.data import Mixup

        model = get_config("common/models/vit/vit_small_patch16_224.py").model
        graph = get_config("common/models/graph.py").graph
        train = get_config("common/train.py").train
        optim = get_config("common/optim.py").optim
        dataloader = get_config("common/data/imagenet.py").dataloader

        model.cfg.num_classes = 1000
        dataloader.train.mixup_func = LazyCall(Mixup)(
            mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, mode="batch",
            num_classes=model.cfg.num_classes,
        )
        optim.params.clip_grad_max_norm = None
        optim.params.clip_grad_norm_type = None
        optim.params.overrides = {"pos_embed": {"weight_decay": 0.0}}
        train.dist.pipeline_num_layers = model.cfg.depth
    """,
    "optim_sgd_pip.py": """
        # Config_System.md: switch the optimizer to SGD in a user config.
        import oneflow as flow
        from libai.config import get_config

        model = get_config("common/models/bert.py").pretrain_model
        graph = get_config("common/models/graph.py").graph
        train = get_config("common/train.py").train
        optim = get_config("common/optim.py").optim
        dataloader = get_config("common/data/bert_dataset.py").dataloader
        tokenization = get_config("common/data/bert_dataset.py").tokenization

        optim._target_ = flow.optim.SGD
        # Remove the incompatible arguments in optim
        del optim.do_bias_correction
        del optim.betas
        del optim.eps
        # Set the need arguments
        optim.momentum = 0.9
    """,
}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.fixture(scope="module")
def libai_configs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LiBai source checkout's ``configs/``: common/ plus the experiments (no __init__.py)."""
    root = tmp_path_factory.mktemp("libai_user") / "configs"
    _write(root, LIBAI_COMMON)
    _write(root, LIBAI_EXPERIMENTS)
    _write(root, GET_CONFIG_EXPERIMENTS)
    return root


def _check(capsys: pytest.CaptureFixture, path: Path, *overrides: str) -> tuple[int, str]:
    """``libai-engine check PATH`` through the console script's ``main``."""
    from libai.engine.cli import main

    capsys.readouterr()
    rc = main(["check", str(path), *overrides])
    out, err = capsys.readouterr()
    return rc, out + err


# ---------------------------------------------------------------- import paths and names

# (module, name): the public names LiBai's configs and tutorials import.
LIBAI_NAMES = [
    ("libai.config", "LazyCall"),
    ("libai.config", "LazyConfig"),
    ("libai.config", "instantiate"),
    ("libai.config", "get_config"),
    ("libai.config", "configurable"),
    ("libai.config", "try_get_key"),
    ("libai.config", "default_argument_parser"),
    ("libai.optim", "get_default_optimizer_params"),
    ("libai.scheduler", "WarmupCosineLR"),
    ("libai.scheduler", "WarmupCosineAnnealingLR"),
    ("libai.scheduler", "WarmupMultiStepLR"),
    ("libai.scheduler", "WarmupExponentialLR"),
    ("libai.scheduler", "WarmupPolynomialLR"),
    ("libai.evaluation", "ClsEvaluator"),
    ("libai.evaluation", "PPLEvaluator"),
    ("libai.evaluation", "DatasetEvaluator"),
    ("libai.evaluation", "inference_on_dataset"),
    ("libai.models", "BertModel"),
    ("libai.models", "BertForPreTraining"),
    ("libai.models", "BertForClassification"),
    ("libai.models", "RobertaModel"),
    ("libai.models", "RobertaForPreTraining"),
    ("libai.models", "GPTModel"),
    ("libai.models", "GPTForPreTraining"),
    ("libai.models", "T5Model"),
    ("libai.models", "T5ForPreTraining"),
    ("libai.models", "VisionTransformer"),
    ("libai.models", "SwinTransformer"),
    ("libai.models", "SwinTransformerV2"),
    ("libai.models", "ResMLP"),
    ("libai.models.bert_model", "BertForClassification"),
    ("libai.models.utils", "GraphBase"),
    ("libai.data", "build_nlp_train_val_test_loader"),
    ("libai.data", "build_nlp_test_loader"),
    ("libai.data", "build_image_train_loader"),
    ("libai.data", "build_image_test_loader"),
    ("libai.data.build", "build_nlp_train_val_test_loader"),
    ("libai.data.build", "build_image_train_loader"),
    ("libai.data.build", "build_image_test_loader"),
    ("libai.data.datasets", "BertDataset"),
    ("libai.data.datasets", "GPT2Dataset"),
    ("libai.data.datasets", "RobertaDataset"),
    ("libai.data.datasets", "T5Dataset"),
    ("libai.data.datasets", "ImageNetDataset"),
    ("libai.data.datasets", "CIFAR100Dataset"),
    ("libai.data.data_utils", "get_indexed_dataset"),
    ("libai.data.structures", "DistTensorData"),
    ("libai.data.structures", "Instance"),
    ("libai.tokenizer", "BertTokenizer"),
    ("libai.tokenizer", "GPT2Tokenizer"),
    ("libai.tokenizer", "RobertaTokenizer"),
    ("libai.tokenizer", "T5Tokenizer"),
    ("libai.engine", "DefaultTrainer"),
    ("libai.engine", "default_setup"),
    ("libai.engine", "hooks"),
    ("libai.utils.checkpoint", "Checkpointer"),
    ("libai.utils", "distributed"),
]


@pytest.mark.parametrize(("module", "name"), LIBAI_NAMES, ids=[f"{m}.{n}" for m, n in LIBAI_NAMES])
def test_libai_import_paths_exist(module: str, name: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    assert hasattr(mod, name), f"`from {module} import {name}` fails"


def test_graphbase_is_the_engines() -> None:
    from libai.engine import GraphBase
    from libai.models.utils import GraphBase as ReExported

    assert ReExported is GraphBase


# (callable, argument names LiBai's configs pass to it)
LIBAI_ARGUMENTS = [
    (
        "libai.optim.get_default_optimizer_params",
        (
            "model",
            "clip_grad_max_norm",
            "clip_grad_norm_type",
            "weight_decay_norm",
            "weight_decay_bias",
            "overrides",
        ),
    ),
    (
        "libai.scheduler.WarmupCosineLR",
        ("optimizer", "max_iter", "warmup_factor", "warmup_iter", "alpha", "warmup_method"),
    ),
    (
        "libai.scheduler.WarmupMultiStepLR",
        ("optimizer", "max_iter", "milestones", "gamma", "warmup_factor", "warmup_iter"),
    ),
    ("libai.evaluation.ClsEvaluator", ("topk",)),
    ("libai.tokenizer.BertTokenizer", ("vocab_file", "do_lower_case", "do_chinese_wwm")),
    ("libai.tokenizer.GPT2Tokenizer", ("vocab_file", "merges_file")),
    (
        "libai.data.datasets.BertDataset",
        (
            "name",
            "data_prefix",
            "indexed_dataset",
            "max_seq_length",
            "mask_lm_prob",
            "short_seq_prob",
            "binary_head",
            "seed",
            "masking_style",
            "tokenizer",
        ),
    ),
    (
        "libai.data.datasets.GPT2Dataset",
        ("name", "data_prefix", "indexed_dataset", "max_seq_length", "seed", "max_num_samples"),
    ),
    ("libai.data.data_utils.get_indexed_dataset", ("data_prefix", "data_impl", "skip_warmup")),
    (
        "libai.data.build_nlp_train_val_test_loader",
        (
            "dataset",
            "splits",
            "weights",
            "train_val_test_num_samples",
            "train_batch_size",
            "test_batch_size",
            "num_workers",
            "seed",
            "consumed_samples",
        ),
    ),
    ("libai.data.build_nlp_test_loader", ("dataset", "test_batch_size", "num_workers")),
    (
        "libai.data.build_image_train_loader",
        ("dataset", "train_batch_size", "num_workers", "mixup_func", "seed", "consumed_samples"),
    ),
    ("libai.data.build_image_test_loader", ("dataset", "test_batch_size", "num_workers")),
    ("libai.data.datasets.ImageNetDataset", ("root", "train", "transform")),
    ("libai.models.utils.GraphBase", ("model", "optimizer", "lr_scheduler", "is_train")),
]


@pytest.mark.parametrize(("target", "names"), LIBAI_ARGUMENTS, ids=[t for t, _ in LIBAI_ARGUMENTS])
def test_libai_argument_names_are_accepted(target: str, names: tuple[str, ...]) -> None:
    from libai.config.targets import locate

    params = inspect.signature(locate(target)).parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    missing = [n for n in names if n not in params and not takes_kwargs]
    assert missing == [], f"{target} does not take LiBai's argument(s) {missing}"


def test_libai_models_take_the_cfg_dict() -> None:
    """LiBai's models are built as ``Model(cfg=dict(...))`` through ``@configurable``."""
    from libai.models import BertForPreTraining, GPTForPreTraining, VisionTransformer

    for cls in (BertForPreTraining, GPTForPreTraining, VisionTransformer):
        assert "cfg" in inspect.signature(cls.__init__).parameters or hasattr(cls, "from_config"), (
            f"{cls.__name__} cannot be built from LiBai's cfg= dict"
        )


# ---------------------------------------------------------------- whole configs


def test_default_configs_have_libai_namespaces_and_keys() -> None:
    """The keys LiBai's experiment configs assign exist in our get_config defaults."""
    from libai.config import get_config

    train = get_config("common/train.py").train
    for key in (
        "output_dir",
        "train_micro_batch_size",
        "global_batch_size",
        "num_accumulation_steps",
        "train_iter",
        "train_epoch",
        "warmup_ratio",
        "start_iter",
        "amp.enabled",
        "activation_checkpoint.enabled",
        "zero_optimization.enabled",
        "zero_optimization.stage",
        "checkpointer.period",
        "checkpointer.max_to_keep",
        "test_micro_batch_size",
        "evaluation.enabled",
        "evaluation.evaluator",
        "evaluation.eval_period",
        "evaluation.eval_iter",
        "evaluation.eval_metric",
        "evaluation.eval_mode",
        "load_weight",
        "log_period",
        "scheduler.warmup_factor",
        "scheduler.alpha",
        "scheduler.warmup_method",
        "dist.data_parallel_size",
        "dist.tensor_parallel_size",
        "dist.pipeline_parallel_size",
        "dist.pipeline_num_layers",
        "input_placement_device",
        "seed",
    ):
        node = train
        for part in key.split("."):
            assert part in node, f"common/train.py: train.{key} is missing (LiBai has it)"
            node = node[part]

    optim = get_config("common/optim.py").optim
    for key in ("lr", "weight_decay", "betas", "eps", "do_bias_correction", "params"):
        assert key in optim, f"common/optim.py: optim.{key} is missing"
    for key in ("clip_grad_max_norm", "clip_grad_norm_type", "weight_decay_norm"):
        assert key in optim.params, f"common/optim.py: optim.params.{key} is missing"

    graph = get_config("common/models/graph.py").graph
    for key in ("enabled", "debug", "train_graph", "eval_graph", "auto_parallel"):
        assert key in graph, f"common/models/graph.py: graph.{key} is missing"

    for rel, names in {
        "common/models/bert.py": ("cfg", "bert_model", "pretrain_model"),
        "common/models/gpt.py": ("cfg", "gpt_model", "pretrain_model"),
        "common/models/t5.py": ("cfg", "t5_model", "pretrain_model"),
        "common/models/roberta.py": ("cfg", "roberta_model", "pretrain_model"),
        "common/models/vit/vit_tiny_patch16_224.py": ("cfg", "model"),
        "common/data/bert_dataset.py": ("dataloader", "tokenization"),
        "common/data/gpt_dataset.py": ("dataloader", "tokenization"),
        "common/data/t5_dataset.py": ("dataloader", "tokenization"),
        "common/data/roberta_dataset.py": ("dataloader", "tokenization"),
        "common/data/imagenet.py": ("dataloader",),
        "common/data/cifar100.py": ("dataloader",),
    }.items():
        loaded = get_config(rel)
        for name in names:
            assert name in loaded, f"get_config({rel!r}) has no {name!r} (LiBai's has)"


@pytest.mark.parametrize("name", sorted(LIBAI_EXPERIMENTS), ids=lambda n: Path(n).stem)
def test_libai_experiment_config_loads_and_checks(
    name: str, libai_configs: Path, capsys: pytest.CaptureFixture
) -> None:
    cfg = LazyConfig.load(str(libai_configs / name))
    for key in ("model", "train", "optim", "graph", "dataloader"):
        assert key in cfg, f"{name}: no {key}"
    rc, output = _check(capsys, libai_configs / name)
    assert rc == 0, f"{name} (as LiBai writes it) fails check:\n{output[-4000:]}"


@pytest.mark.parametrize("name", sorted(GET_CONFIG_EXPERIMENTS), ids=lambda n: Path(n).stem)
def test_get_config_experiment_loads_and_checks(
    name: str, libai_configs: Path, capsys: pytest.CaptureFixture
) -> None:
    rc, output = _check(capsys, libai_configs / name)
    assert rc == 0, f"{name} (LiBai's pip-install form) fails check:\n{output[-4000:]}"


def test_libai_config_overrides_from_the_command_line(
    libai_configs: Path, capsys: pytest.CaptureFixture
) -> None:
    """LiBai's documented command-line overrides (Train_and_Eval_Command_Line.md) apply."""
    rc, output = _check(
        capsys,
        libai_configs / "bert_large_pretrain.py",
        "train.train_iter=10",
        "train.dist.data_parallel_size=1",
        "model.cfg.hidden_layers=2",
        "optim.lr=0.001",
        "graph.enabled=False",
    )
    assert rc == 0, output[-4000:]


@pytest.mark.parametrize("name", sorted(LIBAI_EXPERIMENTS), ids=lambda n: Path(n).stem)
def test_libai_config_save_round_trips(
    name: str, libai_configs: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The LiBai-format config saves to YAML that reloads to the same config and checks.

    LiBai's vit_imagenet.py puts an object in the config (``model.cfg.loss_func =
    SoftTargetCrossEntropy()``): DESIGN.md 2 makes saving it an error naming the key
    (never a pickle), and the message says how to write it instead.
    """
    cfg = LazyConfig.load(str(libai_configs / name))
    if name == "vit_imagenet.py":
        from libai.config import ConfigSaveError

        with pytest.raises(ConfigSaveError) as info:
            LazyConfig.save(cfg, str(tmp_path / "config.yaml"))
        assert "model.cfg.loss_func" in str(info.value)
        assert "LazyCall(SoftTargetCrossEntropy)" in str(info.value)
        return
    LazyConfig.save(cfg, str(tmp_path / "config.yaml"))
    reloaded = LazyConfig.load(str(tmp_path / "config.yaml"))
    difference = LazyConfig.diff(cfg, reloaded)
    assert not difference, difference.format()
    rc, output = _check(capsys, tmp_path / "config.yaml")
    assert rc == 0, output[-4000:]


def test_a_wrong_libai_argument_is_reported_with_its_path(
    libai_configs: Path, capsys: pytest.CaptureFixture
) -> None:
    """A typo in a LiBai config's argument names the config path and the nearest name."""
    rc, output = _check(
        capsys, libai_configs / "gpt2_pretrain.py", "+train.scheduler.warmup_factr=0.1"
    )
    assert rc == 2, output
    assert "train.scheduler" in output and "warmup_factor" in output


# LiBai's cfg keys, shrunk so the models build in a moment.
TINY_MODELS = {
    "bert_classification.py": (
        "BertForClassification",
        [
            "model.cfg.hidden_layers=1",
            "model.cfg.hidden_size=32",
            "model.cfg.num_attention_heads=2",
            "model.cfg.intermediate_size=64",
            "model.cfg.vocab_size=100",
            "model.cfg.max_position_embeddings=16",
        ],
    ),
    "gpt2_pretrain.py": (
        "GPTForPreTraining",
        [
            "model.cfg.hidden_layers=1",
            "model.cfg.hidden_size=32",
            "model.cfg.num_attention_heads=2",
            "model.cfg.ffn_hidden_size=64",
            "model.cfg.vocab_size=100",
            "model.cfg.max_seq_length=16",
        ],
    ),
    "vit_imagenet.py": (
        "VisionTransformer",
        [
            "model.cfg.depth=1",
            "model.cfg.embed_dim=32",
            "model.cfg.num_heads=2",
            "model.cfg.img_size=32",
            "model.cfg.num_classes=10",
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(TINY_MODELS), ids=lambda n: Path(n).stem)
def test_libai_model_and_optimizer_build_from_libai_configs(name: str, libai_configs: Path) -> None:
    """The model and optimizer of a LiBai-format config build (the engine's way: optim.params.model)."""
    from libai.config import instantiate

    class_name, overrides = TINY_MODELS[name]
    cfg = LazyConfig.apply_overrides(LazyConfig.load(str(libai_configs / name)), overrides)
    model = instantiate(cfg.model)
    assert type(model).__name__ == class_name
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params > 0
    cfg.optim.params.model = model
    optimizer = instantiate(cfg.optim)
    assert type(optimizer).__name__ == "AdamW"
    grouped = sum(p.numel() for group in optimizer.param_groups for p in group.parameters)
    assert grouped == n_params


# ---------------------------------------------------------------- a LiBai project's train_net.py


def test_default_argument_parser_takes_libai_train_net_flags() -> None:
    from libai.config import default_argument_parser

    args = default_argument_parser().parse_args(
        ["--config-file", "cfg.py", "--eval-only", "--resume", "train.train_iter=5", "optim.lr=1"]
    )
    assert args.config_file == "cfg.py"
    assert args.eval_only and args.resume and not args.fast_dev_run
    assert args.opts == ["train.train_iter=5", "optim.lr=1"]


def test_libai_train_net_script_trains_then_evaluates_the_saved_model(tmp_path: Path) -> None:
    """LiBai's ``tools/train_net.py`` flow: train, then ``--eval-only`` on ``model_final``.

    The eval-only accuracy of the saved weights equals the accuracy the run measured
    at its last iteration, so the trainer, the checkpointer and the evaluator agree.
    """
    import json
    import shutil
    import sys

    from libai.engine.testing import run_process, subprocess_env

    fixtures = Path(__file__).resolve().parent / "fixtures"
    env = subprocess_env([fixtures])
    out = tmp_path / "out"
    script = [sys.executable, str(fixtures / "libai_train_net.py")]
    config = ["--config-file", str(fixtures / "tiny_run.py")]

    train = run_process(
        [*script, *config, f"train.output_dir={out}"],
        env=env,
        timeout=300,
        before_retry=lambda: shutil.rmtree(out, ignore_errors=True),
    )
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-4000:]
    assert json.loads(train.stdout.strip().splitlines()[-1]) == {"iter": 6}
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines() if line]
    accuracy = [row["Acc@1"] for row in rows if "Acc@1" in row]
    assert accuracy, "the run did not evaluate"

    evaluate = run_process(
        [
            *script,
            *config,
            "--eval-only",
            f"train.output_dir={out}",
            f"train.load_weight={out / 'model_final'}",
        ],
        env=env,
        timeout=300,
    )
    assert evaluate.returncode == 0, evaluate.stdout[-2000:] + evaluate.stderr[-4000:]
    results = json.loads(evaluate.stdout.strip().splitlines()[-1])["eval"]
    assert results["Acc@1"] == pytest.approx(accuracy[-1])


def test_engine_eval_only_matches_the_runs_last_evaluation(tmp_path: Path) -> None:
    """``libai-engine run CFG --eval-only train.load_weight=...`` reports the accuracy
    the training run measured at its end (same weights, same test loader)."""
    import json
    import re
    import shutil
    import sys

    from libai.engine.testing import run_process, subprocess_env

    exe = shutil.which("libai-engine", path=str(Path(sys.executable).parent))
    assert exe is not None, "libai-engine is not installed next to this Python"
    fixtures = Path(__file__).resolve().parent / "fixtures"
    env = subprocess_env([fixtures])
    config = str(fixtures / "tiny_run.py")
    out = tmp_path / "train"

    train = run_process(
        [exe, "run", config, f"train.output_dir={out}"],
        env=env,
        timeout=300,
        before_retry=lambda: shutil.rmtree(out, ignore_errors=True),
    )
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-4000:]
    rows = [json.loads(line) for line in (out / "metrics.json").read_text().splitlines() if line]
    accuracy = [row["Acc@1"] for row in rows if "Acc@1" in row]
    assert accuracy, "the run did not evaluate"

    evaluate = run_process(
        [
            exe,
            "run",
            config,
            "--eval-only",
            f"train.output_dir={tmp_path / 'eval'}",
            f"train.load_weight={out / 'model_final'}",
        ],
        env=env,
        timeout=300,
        before_retry=lambda: shutil.rmtree(tmp_path / "eval", ignore_errors=True),
    )
    assert evaluate.returncode == 0, evaluate.stdout[-2000:] + evaluate.stderr[-4000:]
    found = re.findall(r"Acc@1=([0-9.]+)", evaluate.stdout)
    assert found, evaluate.stdout[-2000:]
    assert float(found[-1]) == pytest.approx(accuracy[-1])


def test_libai_imagenet_loaders_yield_model_batches(libai_configs: Path, tmp_path: Path) -> None:
    """LiBai's common/data/imagenet.py, verbatim, on a tiny ImageNet-layout folder:
    its transforms, ImageNetDataset and build_image_*_loader give the batches the
    engine's ``get_batch`` hands to a model (with vit_imagenet.py's Mixup applied)."""
    import numpy as np
    from libai.config import instantiate
    from libai.engine.data import get_batch
    from PIL import Image

    root = tmp_path / "imagenet"
    for split in ("train", "val"):
        for label in ("n01", "n02"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(2):
                pixels = np.random.default_rng(i).random((40, 50, 3)) * 255
                Image.fromarray(pixels.astype("uint8")).save(folder / f"{i}.png")

    cfg = LazyConfig.load(str(libai_configs / "vit_imagenet.py"))
    cfg.dataloader.train.dataset[0].root = str(root)
    cfg.dataloader.test[0].dataset.root = str(root)
    # What the trainer fills in before building (CONTRACTS.md, Loaders).
    node = cfg.dataloader.train
    node.train_batch_size, node.num_workers, node.seed = 2, 0, 0
    train_loader, _, _ = instantiate(node, _recursive_=False)
    batch = get_batch(next(iter(train_loader)), "cpu", train_loader.mixup_func)
    assert tuple(batch["images"].shape) == (2, 3, 224, 224)
    # Mixup turns class ids into (batch, num_classes) soft labels that sum to 1.
    assert tuple(batch["labels"].shape) == (2, 1000)
    sums = batch["labels"].sum(dim=-1).to_local().numpy()
    assert np.allclose(sums, 1.0, atol=1e-5)

    test_node = cfg.dataloader.test[0]
    test_node.test_batch_size, test_node.num_workers = 2, 0
    test_loader = instantiate(test_node, _recursive_=False)
    batches = [get_batch(b, "cpu") for b in test_loader]
    assert sum(b["images"].shape[0] for b in batches) == 4
    labels = sorted(int(x) for b in batches for x in b["labels"].to_local().numpy())
    assert labels == [0, 0, 1, 1]
