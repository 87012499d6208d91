/**
 * board-kiosk.js — a screen on a wall, that nobody touches: the cursor hides after `idleMs` still,
 * the screen is kept awake (Screen Wake Lock, where the browser offers it; it is released by the
 * browser whenever the page is hidden, so it is asked for again on each return), and a key toggles
 * full screen. Text selection is off in the style sheet (`html.kiosk`).
 */

/**
 * @param {{root: HTMLElement, idleMs?: number, fullscreenKey?: string}} options
 * @returns {{wakeLock: () => string}} the wake lock state: "held", "released", "unsupported" or "refused"
 */
export function startKiosk({ root, idleMs = 3000, fullscreenKey = "f" }) {
  root.classList.add("kiosk");
  let timer = 0;
  const still = () => root.classList.add("idle");
  const moved = () => {
    root.classList.remove("idle");
    clearTimeout(timer);
    timer = setTimeout(still, idleMs);
  };
  addEventListener("pointermove", moved, { passive: true });
  addEventListener("pointerdown", moved, { passive: true });
  timer = setTimeout(still, idleMs);

  let wake = "wakeLock" in navigator ? "released" : "unsupported";
  async function lock() {
    if (wake === "unsupported" || document.visibilityState !== "visible") return;
    try {
      const sentinel = await navigator.wakeLock.request("screen");
      wake = "held";
      sentinel.addEventListener("release", () => { wake = "released"; });
    } catch {
      wake = "refused"; // no user activation yet, a power-saving mode, or a policy: try again on return
    }
  }
  document.addEventListener("visibilitychange", lock);
  lock();

  addEventListener("keydown", (e) => {
    if (e.key.toLowerCase() !== fullscreenKey || e.ctrlKey || e.metaKey || e.altKey) return;
    if (document.fullscreenElement) document.exitFullscreen?.();
    else document.documentElement.requestFullscreen?.().catch(() => {});
  });
  return { wakeLock: () => wake };
}
