// A Kino director style: turns one scene of a script into shot direction.
//
// This module is the component's `director-style` world
// (kino:stage/director-style@0.1.0, see wit/worlds.wit). How WIT maps to JS
// here (componentize-js):
//   - the world's export `direct` is the named export `direct`;
//   - records are plain objects with camelCase fields
//     (`start-ms` -> `startMs`, `scene-index` -> `sceneIndex`);
//   - enums are their kebab-case case names as strings ('push-in');
//   - variants are `{ tag: 'case-name', val: payload }`;
//   - option<T> is the value, or `undefined` for none;
//   - list<T> is an array; u32/f32 are numbers; u64 is a BigInt (a number is accepted);
//   - result<T, E>: return T for ok; THROW the E value for err, e.g.
//     `throw { tag: 'invalid-input', val: 'why' }`. Throwing a plain `Error`
//     (or a value that is not a plugin-error) traps the call instead.
//   - the host interface is imported from 'kino:stage/host@0.1.0'.
import { log, config } from 'kino:stage/host@0.1.0';

/** Used when the tenant and the manifest give no `style`. */
const DEFAULT_STYLE = 'calm';

/**
 * Directs one scene of a script written for `brief`.
 *
 * @param {object} scene  kino:stage/types.scene
 * @param {object} brief  kino:stage/types.brief
 * @returns {object} kino:stage/types.directed-scene
 * @throws {{tag: string, val: any}} a kino:stage/types.plugin-error
 */
export function direct(scene, brief) {
  if (scene.visual.trim() === '') {
    // Not retryable: the same input will fail again.
    throw { tag: 'invalid-input', val: `scene ${scene.index} has an empty visual` };
  }
  const style = config('style') ?? DEFAULT_STYLE;
  log('info', `directing scene ${scene.index} for ${brief.brand} in style "${style}"`);

  // A slow push-in on scenes long enough to show it, else a locked-off camera.
  const cameraMove = scene.durationMs >= 3000 ? 'push-in' : 'locked';

  return {
    sceneIndex: scene.index,
    styledPrompt: `${scene.visual}, ${style}`,
    cameraMove,
    shotSize: 'medium',
    pacing: 1.0, // neutral
    transition: 'crossfade',
    transitionMs: 400,
    grade: {
      // A neutral grade: no shifts, no palette pull.
      warmth: 0.0, // -1 (cool) ..= 1 (warm)
      contrast: 0.0, // -1 (flat) ..= 1 (punchy)
      saturation: 0.0, // -1 (monochrome) ..= 1 (vivid)
      palette: [], // list of { r, g, b } in 0..=1
      paletteStrength: 0.0, // 0 ..= 1
      look: 'neutral',
    },
  };
}
