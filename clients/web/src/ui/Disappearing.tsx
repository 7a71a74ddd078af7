import { useState } from 'preact/hooks';
import { MAX_TIMER_SECONDS, TIMER_CHOICES, timerLabel } from '../engine/index.js';
import { useActions } from './hooks.js';
import { usePopover } from './popover.js';

const UNITS = [
  { label: 'seconds', s: 1 },
  { label: 'minutes', s: 60 },
  { label: 'hours', s: 3600 },
  { label: 'days', s: 86_400 },
  { label: 'weeks', s: 604_800 },
] as const;

/**
 * "Disappearing messages" in a chat's header: off, 5 seconds … 1 week, or a custom time. The
 * choice is itself an encrypted message both sides see in the timeline.
 */
export function Disappearing({ conv, seconds, disabled }: { conv: string; seconds: number; disabled?: boolean }) {
  const a = useActions();
  const { state: open, set: setOpen, opener, box, close } = usePopover(false, 'input:checked, input');
  const [custom, setCustom] = useState({ n: '2', unit: 3600 });
  const pick = (s: number) => {
    close();
    if (s !== seconds) void a.messages.setDisappearing(conv, s);
  };
  const n = Number(custom.n);
  const customSeconds = Number.isInteger(n) && n > 0 ? n * custom.unit : 0;
  const customOk = customSeconds > 0 && customSeconds <= MAX_TIMER_SECONDS;
  return (
    <div class="disappearing">
      <button
        ref={opener}
        class="btn small"
        type="button"
        data-testid="disappearing"
        aria-expanded={open}
        aria-label={`Disappearing messages: ${seconds > 0 ? timerLabel(seconds) : 'off'}`}
        title="Disappearing messages"
        disabled={disabled}
        onClick={() => setOpen(!open)}
      >
        <span aria-hidden="true">⏱</span>
        {seconds > 0 ? (
          <span class="label" aria-hidden="true">
            {' '}
            {timerLabel(seconds)}
          </span>
        ) : (
          <span class="label" aria-hidden="true">
            {' '}
            Disappearing messages
          </span>
        )}
      </button>
      {open && (
        <div class="menu timer-menu" role="dialog" aria-label="Disappearing messages" ref={box}>
          <fieldset>
            <legend>Disappearing messages</legend>
            <p class="hint">New messages here disappear this long after they are read (yours: after they are sent).</p>
            {[0, ...TIMER_CHOICES].map((s) => (
              <label key={s} class="choice">
                <input type="radio" name="timer" checked={s === seconds} onChange={() => pick(s)} />
                {s === 0 ? 'Off' : timerLabel(s)}
              </label>
            ))}
          </fieldset>
          <form
            class="custom"
            onSubmit={(e) => {
              e.preventDefault();
              if (customOk) pick(customSeconds);
            }}
          >
            <label for="timer-n">Custom</label>
            <input
              id="timer-n"
              type="number"
              min={1}
              inputMode="numeric"
              value={custom.n}
              onInput={(e) => setCustom({ ...custom, n: e.currentTarget.value })}
            />
            <select
              aria-label="Unit"
              value={custom.unit}
              onChange={(e) => setCustom({ ...custom, unit: Number(e.currentTarget.value) })}
            >
              {UNITS.map((u) => (
                <option key={u.s} value={u.s}>
                  {u.label}
                </option>
              ))}
            </select>
            <button class="btn small" type="submit" disabled={!customOk}>
              Set
            </button>
          </form>
        </div>
      )}
    </div>
  );
}
