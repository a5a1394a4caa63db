/** The latency chart (uPlot on a canvas) and the 90-day uptime bar (SVG, one cell per day). */
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { ms, msTick, percent } from '../format.js';

export interface Line {
  label: string;
  colour: string;
  values: Array<number | null>;
  dash?: number[];
}

const PALETTE = ['#1d4ed8', '#b45309', '#15803d', '#6d28d9', '#b91c1c', '#0f766e'];
export const colourAt = (i: number) => PALETTE[i % PALETTE.length]!;

/** A time-series chart; `times` in ms. Redrawn when the data changes, resized with its box. */
export function LatencyChart({ times, lines, title }: { times: number[]; lines: Line[]; title: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: 260,
      scales: { x: { time: true } },
      axes: [{}, { label: 'ms', values: (_u, v) => v.map((x) => msTick(x, v)) }],
      series: [
        {},
        ...lines.map((l) => ({
          label: l.label,
          stroke: l.colour,
          width: 2,
          spanGaps: true,
          // Sparse data (a new asset) shows as points, which a line through one value would not.
          points: { show: l.values.filter((v) => v !== null).length < 30, size: 6, fill: l.colour },
          ...(l.dash ? { dash: l.dash } : {}),
          value: (_u: uPlot, v: number | null) => ms(v),
        })),
      ],
    };
    const data = [times.map((t) => t / 1000), ...lines.map((l) => l.values)] as uPlot.AlignedData;
    const plot = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(300, el.clientWidth), height: 260 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [times, lines]);
  return <div class="chart" ref={box} role="img" aria-label={title} />;
}

export interface Day {
  day: string;
  uptimePercent: number | null;
  checks: number;
  failures?: number;
}

export function uptimeColour(p: number | null, checks: number): string {
  if (checks === 0 || p === null) return '#d1d5db';
  if (p >= 99.9) return '#15803d';
  if (p >= 99) return '#65a30d';
  if (p >= 95) return '#b45309';
  return '#b91c1c';
}

function describeDay(d: Day): string {
  if (d.checks === 0) return `${d.day}: no checks`;
  const failed = d.failures === undefined ? '' : `, ${d.failures} failed`;
  return `${d.day}: ${percent(d.uptimePercent)} up, ${d.checks} checks${failed}`;
}

/** One cell per day; hovering or focusing a cell shows that day's numbers. */
export function UptimeBar({ days, label }: { days: Day[]; label: string }) {
  const [hover, setHover] = useState<Day | null>(null);
  const w = 6;
  const gap = 2;
  return (
    <figure class="uptime">
      <svg
        viewBox={`0 0 ${days.length * (w + gap)} 32`}
        preserveAspectRatio="none"
        role="img"
        aria-label={label}
        class="uptime-bar"
        onPointerMove={(e) => setHover(days[Number((e.target as Element).getAttribute('data-i') ?? -1)] ?? null)}
        onPointerLeave={() => setHover(null)}
      >
        {days.map((d, i) => (
          <rect
            key={d.day}
            x={i * (w + gap)}
            y={0}
            width={w}
            height={32}
            rx={1}
            fill={uptimeColour(d.uptimePercent, d.checks)}
            data-i={i}
          >
            <title>{describeDay(d)}</title>
          </rect>
        ))}
      </svg>
      <figcaption class="muted small" aria-live="polite">
        {hover ? describeDay(hover) : `${days[0]?.day ?? ''} … ${days[days.length - 1]?.day ?? ''} (hover a day for its numbers)`}
      </figcaption>
    </figure>
  );
}

