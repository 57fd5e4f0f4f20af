# Default config of the example model; `get_config("common/models/tiny_mlp.py")`
# finds it through the plugin's libai_config_dirs hook.
from libai.config import LazyCall

model = LazyCall("models:tiny_mlp")(
    in_features=4,
    hidden_features=8,
    out_features=2,
    num_layers=2,
    seed=0,
)
