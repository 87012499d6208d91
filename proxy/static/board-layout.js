/**
 * board-layout.js — how big the type is and how many pages the board needs. Pure arithmetic, plus
 * one text-measuring helper.
 *
 * Everything in a row or tile is sized in `--cell` units (ems of the board's type), so a row's
 * height and a column's need are linear in the type size: measured once at one size, they are known
 * at every size. A board shrinks its type to fit every queue on the screen, down to a legibility
 * floor; below the floor it pages instead, with as many queues on each page as the floor allows,
 * spread evenly over the pages (60 rows in 2 pages of 30, not 31 + 29); a page is whole rows, never
 * one cut mid-row.
 */

let ctx2d = null;

/** Width of `text` in ems of `font` ("600 Inter, sans-serif" without a size). */
export function textEm(text, font) {
  if (!ctx2d) ctx2d = (typeof OffscreenCanvas === "function" ? new OffscreenCanvas(1, 1) : document.createElement("canvas"))
    .getContext("2d");
  const [weight, ...family] = font.split(" ");
  ctx2d.font = `${weight} 100px ${family.join(" ")}`;
  return ctx2d.measureText(text).width / 100;
}

/**
 * Rows: `n` rows of `rowK`·cell px under a header of `headK`·cell px in `avail` px.
 * Returns `{cell, pages, perPage}`: the largest cell up to `max` that fits every row; else the page
 * count at the `floor` and the cell that fills those pages. `max` (the widest the columns allow) wins
 * over the floor on a narrow screen.
 */
export function planRows({ n, avail, rowK, headK, floor, max }) {
  const lo = Math.min(floor, max);
  const fit = avail / (Math.max(n, 1) * rowK + headK);
  if (fit >= lo) return { cell: Math.min(fit, max), pages: 1, perPage: Math.max(n, 1) };
  const most = Math.max(1, Math.floor((avail / lo - headK) / rowK));
  const pages = Math.ceil(n / most);
  const perPage = Math.ceil(n / pages);
  return { cell: Math.min(max, avail / (perPage * rowK + headK)), pages, perPage };
}

/** How many tiles of `tileW`×`tileH` cells (plus `gap`) go in `width`×`height` px at type size `cell`. */
export function tileGrid({ width, height, tileW, tileH, gap }, cell) {
  const cols = Math.max(1, Math.floor((width + gap * cell) / ((tileW + gap) * cell)));
  const rows = Math.max(1, Math.floor((height + gap * cell) / ((tileH + gap) * cell)));
  return { cols, rows };
}

/** The largest type size in [lo, hi] at which `need` tiles fit (hi when they all fit at hi). */
function largestFitting(box, need, lo, hi) {
  const fits = (c) => {
    const { cols, rows } = tileGrid(box, c);
    return cols * rows >= need;
  };
  if (fits(hi)) return hi;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * Tiles: `{cell, pages, perPage, cols}` for `n` tiles in `box` (`width`, `height` px; `tileW`,
 * `tileH`, `gap` in cells), type between `floor` and `max`.
 */
export function planTiles({ n, box, floor, max }) {
  const lo = Math.min(floor, max);
  const atFloor = tileGrid(box, lo);
  let pages = 1;
  let perPage = Math.max(n, 1);
  if (atFloor.cols * atFloor.rows < n) {
    pages = Math.ceil(n / (atFloor.cols * atFloor.rows));
    perPage = Math.ceil(n / pages);
  }
  const cell = largestFitting(box, perPage, lo, max);
  const { cols, rows } = tileGrid(box, cell);
  // as few columns as hold the page in `rows` rows, so a few tiles are not strung along one line
  return { cell, pages, perPage, cols: Math.min(cols, Math.max(1, Math.ceil(perPage / rows))) };
}
