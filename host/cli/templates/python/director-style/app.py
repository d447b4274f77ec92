"""A Kino director style: turns one scene of a script into shot direction.

This module is the component's `director-style` world
(kino:stage/director-style@0.1.0, see wit/worlds.wit). How WIT maps to Python
here (componentize-py; `componentize-py -d wit -w director-style bindings .`
writes the bindings to read, with type hints, into `wit_world/`):

- the world's exports are methods of a class named `WitWorld` in this module,
  subclassing `wit_world.WitWorld`;
- records are dataclasses with snake_case fields (`start-ms` -> `start_ms`);
- enums are `enum.Enum` classes with UPPER_SNAKE members (`CameraMove.PUSH_IN`);
- variants are one dataclass per case, named `<Variant>_<Case>` with a `value`
  field (`PluginError_InvalidInput("why")`);
- option<T> is `Optional[T]` (None for none); list<T> is a Python list;
  integers are `int`, f32 is `float`;
- result<T, E>: return T for ok; `raise Err(E)` (from componentize_py_types)
  for err. Any other exception traps the call;
- the host interface is the module `wit_world.imports.host`.
"""

import wit_world
from componentize_py_types import Err
from wit_world.imports import host
from wit_world.imports.types import (
    Brief,
    CameraMove,
    DirectedScene,
    GradeIntent,
    PluginError_InvalidInput,
    Scene,
    ShotSize,
    Transition,
)

# Used when the tenant and the manifest give no `style`.
DEFAULT_STYLE = "calm"


class WitWorld(wit_world.WitWorld):
    def direct(self, scene: Scene, brief: Brief) -> DirectedScene:
        """Directs one scene of a script written for `brief`."""
        if not scene.visual.strip():
            # Not retryable: the same input will fail again.
            raise Err(PluginError_InvalidInput(f"scene {scene.index} has an empty visual"))
        style = host.config("style") or DEFAULT_STYLE
        host.log(
            host.LogLevel.INFO,
            f'directing scene {scene.index} for {brief.brand} in style "{style}"',
        )

        # A slow push-in on scenes long enough to show it, else a locked-off camera.
        camera_move = CameraMove.PUSH_IN if scene.duration_ms >= 3000 else CameraMove.LOCKED

        return DirectedScene(
            scene_index=scene.index,
            styled_prompt=f"{scene.visual}, {style}",
            camera_move=camera_move,
            shot_size=ShotSize.MEDIUM,
            pacing=1.0,  # neutral
            transition=Transition.CROSSFADE,
            transition_ms=400,
            grade=GradeIntent(
                # A neutral grade: no shifts, no palette pull.
                warmth=0.0,  # -1 (cool) ..= 1 (warm)
                contrast=0.0,  # -1 (flat) ..= 1 (punchy)
                saturation=0.0,  # -1 (monochrome) ..= 1 (vivid)
                palette=[],  # list of types.Rgb(r, g, b) in 0..=1
                palette_strength=0.0,  # 0 ..= 1
                look="neutral",
            ),
        )
