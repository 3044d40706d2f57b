"""A layered drawing of a directed graph on a grid of terminal cells, top to bottom.

Pure (no Textual), after Sugiyama, each step the simplest that holds up at thousands of
nodes (no graph library did):

1. Layers by longest path from the sources; a source is then pulled down to just above its
   first successor. Cycles (only folded groups make them) are broken first: the edges that
   close one are drawn upwards.
2. A dummy node on every layer a long edge passes, so edges only join adjacent layers.
3. Barycenter sweeps, down then up: each layer sorted by the mean position of its
   neighbours in the layer before; the ordering with the fewest crossings is kept.
4. x positions pulled towards the neighbours' centres, each layer kept in order and apart
   by isotonic regression; then ports and orthogonal routes. Every edge leaves its upper box
   on a column of its own and enters its lower box on another; in the channel between two
   layers it runs down, along a track row, and down again. Two edges may cross, never share
   a cell, so a drawing never shows a join that is not one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

BOX_HEIGHT = 3  # top border (where edges arrive), label, bottom border (where they leave)
GAP = 2  # columns between neighbours in a layer
SWEEPS = 8  # ordering sweeps, alternately down and up
PLACEMENTS = 4  # rounds of x placement (a down and an up sweep each)
DUMMY_WEIGHT = 4  # how much more a long edge's dummy resists moving than a box: straight lines

Point = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Box:
    """A node's box: its top left cell, ``width`` columns and BOX_HEIGHT rows."""

    node: Hashable
    layer: int
    x: int
    y: int
    width: int


@dataclass(frozen=True, slots=True)
class Route:
    """An edge ``tail -> head`` as corner points (x, y), from the upper box's bottom border
    down to the lower box's top border; ``upward`` when the edge closed a cycle, so the
    head is the upper box."""

    tail: Hashable
    head: Hashable
    points: tuple[Point, ...]
    upward: bool


@dataclass(frozen=True, slots=True)
class Layout:
    boxes: dict[Hashable, Box]
    routes: tuple[Route, ...]
    layers: tuple[tuple[Hashable, ...], ...]  # the nodes of each layer, left to right
    width: int
    height: int
    crossings: int  # of the ordering: edges between adjacent layers that cross


def layered_layout(
    nodes: Sequence[Hashable],
    edges: Iterable[tuple[Hashable, Hashable]],
    widths: Mapping[Hashable, int] | None = None,
    *,
    sweeps: int = SWEEPS,
) -> Layout:
    """Boxes and routes for ``nodes`` (in a stable order: ties keep it) and ``edges``
    (repeats and self-loops ignored). ``widths`` are the boxes' least widths (default: the
    node's text and a margin); a box with many ports is made wider, so each has its own
    column. ``sweeps=0`` keeps the first ordering (a depth-first walk)."""
    index = {node: i for i, node in enumerate(nodes)}
    pairs = list(dict.fromkeys((index[a], index[b]) for a, b in edges if a != b))
    g = _Graph(len(nodes), pairs)
    for i, node in enumerate(nodes):
        least = widths[node] if widths is not None else len(str(node)) + 4
        g.width[i] = max(least, 3 * len(g.up[i]) + 2, 2 * len(g.down[i]) + 2, 3)
    layers = g.initial_order()
    best, kept = g.crossings(layers), [list(layer) for layer in layers]
    for sweep in range(sweeps):
        if best == 0:
            break
        g.barycenter(layers, downwards=sweep % 2 == 0)
        count = g.crossings(layers)
        if count < best:
            best, kept = count, [list(layer) for layer in layers]
    return g.draw(nodes, pairs, kept, best)


class _Graph:
    """Nodes as integers (dummies after the real ones) and segments: edges between
    adjacent layers."""

    def __init__(self, n: int, pairs: list[tuple[int, int]]) -> None:
        self.n = n
        self.flipped = _acyclic(n, pairs)
        drawn = [(b, a) if f else (a, b) for (a, b), f in zip(pairs, self.flipped, strict=True)]
        self.layer = _layers(n, drawn)
        self.width = [1] * n  # real widths are set by the caller; a dummy is one column
        self.up: list[list[int]] = [[] for _ in range(n)]  # segments arriving from above
        self.down: list[list[int]] = [[] for _ in range(n)]  # segments leaving below
        self.seg_up: list[int] = []
        self.seg_down: list[int] = []
        self.chains: list[list[int]] = []  # per edge, its segments top to bottom
        for a, b in drawn:
            chain = []
            at = a
            for layer in range(self.layer[a] + 1, self.layer[b] + 1):
                nxt = b if layer == self.layer[b] else self._dummy(layer)
                chain.append(self._segment(at, nxt))
                at = nxt
            self.chains.append(chain)
        self.above = [[self.seg_up[s] for s in segs] for segs in self.up]
        self.below = [[self.seg_down[s] for s in segs] for segs in self.down]

    def _dummy(self, layer: int) -> int:
        self.layer.append(layer)
        self.width.append(1)
        self.up.append([])
        self.down.append([])
        return len(self.layer) - 1

    def _segment(self, a: int, b: int) -> int:
        s = len(self.seg_up)
        self.seg_up.append(a)
        self.seg_down.append(b)
        self.down[a].append(s)
        self.up[b].append(s)
        return s

    def is_dummy(self, v: int) -> bool:
        return v >= self.n

    # -- ordering --------------------------------------------------------------------------

    def initial_order(self) -> list[list[int]]:
        """Depth first from each source in the given order: a chain stays in one column."""
        layers: list[list[int]] = [[] for _ in range(max(self.layer, default=-1) + 1)]
        seen = [False] * len(self.layer)
        for root in range(self.n):
            if seen[root] or self.up[root]:
                continue
            seen[root] = True
            stack = [root]
            while stack:
                v = stack.pop()
                layers[self.layer[v]].append(v)
                for s in reversed(self.down[v]):
                    w = self.seg_down[s]
                    if not seen[w]:
                        seen[w] = True
                        stack.append(w)
        return layers

    def barycenter(self, layers: list[list[int]], *, downwards: bool) -> None:
        """One sweep: each layer by the mean position of its neighbours in the one before;
        a node without any keeps its place (the sort is stable)."""
        pos = [0.0] * len(self.layer)
        for layer in layers:
            for i, v in enumerate(layer):
                pos[v] = i
        order = range(1, len(layers)) if downwards else range(len(layers) - 2, -1, -1)
        near = self.above if downwards else self.below
        key = [0.0] * len(self.layer)
        for li in order:
            layer = layers[li]
            for v in layer:
                others = near[v]
                key[v] = sum([pos[w] for w in others]) / len(others) if others else pos[v]
            layer.sort(key=key.__getitem__)
            for i, v in enumerate(layer):
                pos[v] = i

    def crossings(self, layers: list[list[int]]) -> int:
        pos = [0] * len(self.layer)
        for layer in layers:
            for i, v in enumerate(layer):
                pos[v] = i
        total = 0
        for layer in layers[:-1]:
            pairs = sorted((pos[v], pos[self.seg_down[s]]) for v in layer for s in self.down[v])
            seen: list[int] = []
            for _, b in pairs:
                at = bisect_right(seen, b)
                total += len(seen) - at
                seen.insert(at, b)
        return total

    # -- placing and routing ---------------------------------------------------------------

    def place(self, layers: list[list[int]]) -> list[int]:
        """Left columns: each layer packed, then pulled towards its neighbours' centres."""
        half = [w / 2 for w in self.width]
        centre = [0.0] * len(self.layer)
        for layer in layers:
            at = -sum(self.width[v] + GAP for v in layer) / 2
            for v in layer:
                centre[v] = at + half[v]
                at += self.width[v] + GAP
        above, below = self.above, self.below
        for _ in range(PLACEMENTS):
            for li in range(1, len(layers)):
                self._pull(layers[li], centre, half, above)
            for li in range(len(layers) - 2, -1, -1):
                self._pull(layers[li], centre, half, below)
        left = [0] * len(self.layer)
        for li, layer in enumerate(layers):
            dummies_above = {left[v] for v in layers[li - 1] if self.is_dummy(v)} if li else set()
            edge = None
            for v in layer:
                at = round(centre[v] - half[v])
                left[v] = at if edge is None else max(at, edge)
                if self.is_dummy(v):
                    # another long edge's dummy right above would share its column
                    mine = left[above[v][0]]
                    while left[v] in dummies_above and left[v] != mine:
                        left[v] += 1
                edge = left[v] + self.width[v] + GAP
        shift = min(left, default=0)
        return [at - shift for at in left]

    def _pull(
        self, layer: list[int], centre: list[float], half: list[float], near: list[list[int]]
    ) -> None:
        """Each node wants the mean centre of its ``near`` neighbours (or stays); isotonic
        regression (pool adjacent violators) of those wishes less each node's least offset
        in the layer gives the closest placement that keeps the order and the gaps."""
        sums: list[float] = []  # per block of nodes placed side by side: weighted sum,
        weights: list[float] = []  # its weight,
        counts: list[int] = []  # and how many nodes it holds
        offsets = []
        offset = 0.0
        n = self.n
        for v in layer:
            others = near[v]
            if len(others) == 1:  # most nodes, and every dummy
                wish, weight = centre[others[0]], DUMMY_WEIGHT if v >= n else 1
            elif others:
                wish = sum([centre[u] for u in others]) / len(others)
                weight = len(others) * (DUMMY_WEIGHT if v >= n else 1)
            else:
                wish, weight = centre[v], 1
            offset += half[v]
            offsets.append(offset)
            sums.append((wish - offset) * weight)
            weights.append(weight)
            counts.append(1)
            offset += half[v] + GAP
            while len(sums) > 1 and sums[-2] * weights[-1] > sums[-1] * weights[-2]:
                merged = weights.pop(), sums.pop(), counts.pop()
                weights[-1] += merged[0]
                sums[-1] += merged[1]
                counts[-1] += merged[2]
        i = 0
        for total, pooled, count in zip(sums, weights, counts, strict=True):
            z = total / pooled
            for _ in range(count):
                centre[layer[i]] = z + offsets[i]
                i += 1

    def ports(self, layers: list[list[int]], left: list[int]) -> tuple[list[int], list[int]]:
        """Per segment, its column on the upper side (``p``) and the lower side (``q``):
        every port of a channel on a column of its own, unless an edge runs straight down.

        The lower side is placed first, its ports two apart and off the columns of dummies
        above; then the upper side, off every lower port but its own. Box widths (three
        columns per port arriving, two per port leaving) make room for both."""
        p = [0] * len(self.seg_up)
        q = [0] * len(self.seg_up)
        centre = [left[v] + (self.width[v] - 1) / 2 for v in range(len(self.layer))]
        for li in range(len(layers) - 1):
            dummies = {left[v] for v in layers[li] if self.is_dummy(v)}
            for v in layers[li + 1]:
                segs = sorted(self.up[v], key=lambda s: (centre[self.seg_up[s]], s))
                if not segs:
                    continue
                if self.is_dummy(v):
                    q[segs[0]] = left[v]
                    continue
                own = [
                    left[u] if self.is_dummy(u) else None
                    for u in map(self.seg_up.__getitem__, segs)
                ]
                lo, hi = left[v] + 1, left[v] + self.width[v] - 2
                wanted = [
                    o if o is not None else centre[self.seg_up[s]]
                    for s, o in zip(segs, own, strict=True)
                ]
                for s, at in zip(segs, _columns(lo, hi, wanted, own, dummies, 2), strict=True):
                    q[s] = at
            taken = {q[s] for v in layers[li] for s in self.down[v]}
            for u in layers[li]:
                segs = sorted(self.down[u], key=lambda s: (q[s], s))
                if not segs:
                    continue
                if self.is_dummy(u):
                    p[segs[0]] = left[u]
                    continue
                lo, hi = left[u] + 1, left[u] + self.width[u] - 2
                own_q: list[int | None] = [q[s] for s in segs]
                wanted = [float(q[s]) for s in segs]
                for s, at in zip(segs, _columns(lo, hi, wanted, own_q, taken, 1), strict=True):
                    p[s] = at
        return p, q

    def tracks(self, layers: list[list[int]], p: list[int], q: list[int]) -> list[int]:
        """Per segment, its track row in the channel (-1: straight down). Edges going the
        same way are stacked so they do not cross each other needlessly (the one leaving
        further out turns first); horizontals on one track never touch."""
        track = [-1] * len(self.seg_up)
        for layer in layers[:-1]:
            segs = [s for v in layer for s in self.down[v] if p[s] != q[s]]
            if not segs:
                continue
            lo = min(min(p[s], q[s]) for s in segs)
            hi = max(max(p[s], q[s]) for s in segs)
            heights = {True: [0] * (hi - lo + 1), False: [0] * (hi - lo + 1)}
            rows: list[tuple[list[int], list[int]]] = []  # per track: starts, ends
            rightward = sorted((s for s in segs if q[s] > p[s]), key=lambda s: (-p[s], s))
            leftward = sorted((s for s in segs if q[s] < p[s]), key=lambda s: (p[s], s))
            for s in [*rightward, *leftward]:
                a, b = sorted((p[s], q[s]))
                height = heights[q[s] > p[s]]
                t = max(height[a - lo : b - lo + 1])
                while t < len(rows) and _overlaps(rows[t], a, b):
                    t += 1
                if t == len(rows):
                    rows.append(([], []))
                starts, ends = rows[t]
                at = bisect_right(starts, a)
                starts.insert(at, a)
                ends.insert(at, b)
                height[a - lo : b - lo + 1] = [t + 1] * (b - a + 1)
                track[s] = t
        return track

    def draw(
        self,
        nodes: Sequence[Hashable],
        pairs: list[tuple[int, int]],
        layers: list[list[int]],
        crossings: int,
    ) -> Layout:
        left = self.place(layers)
        p, q = self.ports(layers, left)
        track = self.tracks(layers, p, q)
        channel = [0] * len(layers)
        for s, t in enumerate(track):
            li = self.layer[self.seg_up[s]]
            channel[li] = max(channel[li], t + 1)
        top = [0] * (len(layers) + 1)
        for li in range(len(layers)):
            top[li + 1] = top[li] + BOX_HEIGHT + max(1, channel[li])
        routes = []
        for (a, b), flipped, chain in zip(pairs, self.flipped, self.chains, strict=True):
            points: list[Point] = []
            for s in chain:
                li = self.layer[self.seg_up[s]]
                if not points:
                    points.append((p[s], top[li] + BOX_HEIGHT - 1))
                if track[s] >= 0:
                    row = top[li] + BOX_HEIGHT + track[s]
                    points += [(p[s], row), (q[s], row)]
                points.append((q[s], top[li + 1]))
            routes.append(Route(nodes[a], nodes[b], _corners(points), flipped))
        boxes = {
            nodes[v]: Box(nodes[v], self.layer[v], left[v], top[self.layer[v]], self.width[v])
            for v in range(self.n)
        }
        width = max((left[v] + self.width[v] for v in range(len(self.layer))), default=0)
        height = top[len(layers) - 1] + BOX_HEIGHT if layers else 0
        real = tuple(tuple(nodes[v] for v in layer if v < self.n) for layer in layers)
        return Layout(boxes, tuple(routes), real, width, height, crossings)


def _acyclic(n: int, pairs: list[tuple[int, int]]) -> list[bool]:
    """Which edges to draw upwards: those a depth-first walk finds closing a cycle."""
    out: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for i, (a, b) in enumerate(pairs):
        out[a].append((b, i))
    state = [0] * n  # 0 unseen, 1 on the walk's path, 2 done
    flipped = [False] * len(pairs)
    for root in range(n):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(out[root]))]
        while stack:
            v, todo = stack[-1]
            for w, i in todo:
                if state[w] == 1:
                    flipped[i] = True
                elif state[w] == 0:
                    state[w] = 1
                    stack.append((w, iter(out[w])))
                    break
            else:
                state[v] = 2
                stack.pop()
    return flipped


def _layers(n: int, edges: list[tuple[int, int]]) -> list[int]:
    """Longest path from the sources; then each source just above its nearest successor
    (a source feeding only the last layer would otherwise stretch a long edge down)."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indegree = [0] * n
    for a, b in edges:
        succ[a].append(b)
        indegree[b] += 1
    layer = [0] * n
    ready = deque(v for v in range(n) if indegree[v] == 0)
    sources = list(ready)
    while ready:
        v = ready.popleft()
        for w in succ[v]:
            layer[w] = max(layer[w], layer[v] + 1)
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    for v in sources:
        if succ[v]:
            layer[v] = min(layer[w] for w in succ[v]) - 1
    return layer


def _columns(
    lo: int,
    hi: int,
    wanted: list[float],
    own: list[int | None],
    taken: set[int],
    spacing: int,
) -> list[int]:
    """Columns in ``lo..hi`` for ports in order, ``spacing`` apart, each off ``taken`` but
    for its ``own`` column, as close to ``wanted`` as can be (least total distance, by
    dynamic programming over the columns; the box widths leave room for every port)."""
    width = hi - lo + 1
    inf = float("inf")
    cost: list[float] = []
    choices: list[list[int]] = []
    for j, (want, mine) in enumerate(zip(wanted, own, strict=True)):
        row = [inf] * width
        back = [-1] * width
        best, best_at = (0.0, -1) if j == 0 else (inf, -1)
        for i in range(width):
            if j and i - spacing >= 0 and cost[i - spacing] < best:
                best, best_at = cost[i - spacing], i - spacing
            column = lo + i
            if best == inf or (column in taken and column != mine):
                continue
            row[i] = best + abs(column - want)
            back[i] = best_at
        cost = row
        choices.append(back)
    at = min(range(width), key=cost.__getitem__)
    out = []
    for back in reversed(choices):
        out.append(lo + at)
        at = back[at]
    return out[::-1]


def _overlaps(row: tuple[list[int], list[int]], a: int, b: int) -> bool:
    starts, ends = row
    at = bisect_right(starts, b) - 1
    return at >= 0 and ends[at] >= a


def _corners(points: list[Point]) -> tuple[Point, ...]:
    """Drop the points in the middle of a straight run."""
    out = [points[0]]
    for i in range(1, len(points) - 1):
        (x0, y0), (x1, y1), (x2, y2) = out[-1], points[i], points[i + 1]
        if not ((x0 == x1 == x2) or (y0 == y1 == y2)):
            out.append(points[i])
    out.append(points[-1])
    return tuple(out)
