// "New session": title, the creator's role, timing (standard or a mediation day), limits, and the terms draft.
import type { Role } from "@backchannel/common";
import { type FormEvent, useId, useRef, useState } from "react";
import { api, toUserError, type UserError } from "../api";
import {
  buildCreateRequest,
  type Duration,
  type DurationUnit,
  emptyForm,
  type NewSessionForm as Form,
  PRESETS,
} from "../lib/newSession";
import { fromLocalInputValue, toLocalInputValue } from "../lib/time";
import { navigate } from "../router";
import { ErrorLine } from "./ErrorLine";
import { Field } from "./Field";

const CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "CHF", "JPY"];
const UNITS: DurationUnit[] = ["seconds", "minutes", "hours", "days"];
const BONUS_CHOICES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

function DurationField(props: { label: string; hint: string; value: Duration; onChange(d: Duration): void }) {
  const id = useId();
  return (
    <fieldset className="duration">
      <legend>{props.label}</legend>
      <p className="hint">{props.hint}</p>
      <div className="row">
        <label htmlFor={`${id}-n`} className="visually-hidden">
          {props.label}: amount
        </label>
        <input
          id={`${id}-n`}
          type="number"
          min="1"
          step="any"
          inputMode="numeric"
          required
          value={props.value.amount}
          onChange={(e) => props.onChange({ ...props.value, amount: e.target.value })}
        />
        <label htmlFor={`${id}-u`} className="visually-hidden">
          {props.label}: unit
        </label>
        <select
          id={`${id}-u`}
          value={props.value.unit}
          onChange={(e) => props.onChange({ ...props.value, unit: e.target.value as DurationUnit })}
        >
          {UNITS.map((u) => (
            <option key={u} value={u}>
              {u}
            </option>
          ))}
        </select>
      </div>
    </fieldset>
  );
}

export function NewSessionForm() {
  const [form, setForm] = useState<Form>(emptyForm);
  const [startLater, setStartLater] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UserError | null>(null);
  // No default: a mediator who missed the choice would otherwise become a bidding party.
  const [role, setRole] = useState<Role | null>(null);
  const [roleError, setRoleError] = useState(false);
  const roleId = useId();
  const firstRole = useRef<HTMLInputElement>(null);
  const update = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));
  const activePreset = PRESETS.find(
    (p) =>
      p.step2.amount === form.step2.amount &&
      p.step2.unit === form.step2.unit &&
      p.step3.amount === form.step3.amount &&
      p.step3.unit === form.step3.unit,
  );

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (role === null) {
      setRoleError(true);
      firstRole.current?.focus();
      return;
    }
    const built = buildCreateRequest({ ...form, role, startAt: startLater ? form.startAt : null });
    if (!built.ok) {
      setError({ code: "INVALID_INPUT", message: built.message });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const { view } = await api.createSession(built.body);
      navigate(`/sessions/${view.id}`);
    } catch (err) {
      setError(toUserError(err));
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="new-session">
      <h2 id="new-session">New session</h2>
      <form className="form" onSubmit={submit} noValidate>
        <label>
          Title
          <input
            name="title"
            required
            maxLength={200}
            placeholder="Smith v. Acme Logistics"
            value={form.title}
            onChange={(e) => update({ title: e.target.value })}
          />
        </label>

        <fieldset
          aria-describedby={roleError ? `${roleId}-error` : undefined}
          className={roleError ? "invalid" : undefined}
        >
          <legend>You are (required)</legend>
          {roleError && (
            <p className="error" id={`${roleId}-error`} role="alert">
              Choose whether you are on the claimant side, on the respondent side, or the mediator.
            </p>
          )}
          {(
            [
              ["claimant", "On the claimant side", "receives money; your number is a demand"],
              ["respondent", "On the respondent side", "pays money; your number is an offer"],
              ["mediator", "The mediator", "neutral; you never see either number"],
            ] as const
          ).map(([value, label, hint], i) => (
            <label key={value} className="choice">
              <input
                ref={i === 0 ? firstRole : undefined}
                type="radio"
                name="role"
                value={value}
                required
                aria-invalid={roleError || undefined}
                checked={role === value}
                onChange={() => {
                  setRole(value);
                  setRoleError(false);
                }}
              />
              <span>
                {label} <span className="hint">— {hint}</span>
              </span>
            </label>
          ))}
        </fieldset>

        <fieldset>
          <legend>Timing</legend>
          <div className="preset-row">
            {PRESETS.map((p) => (
              <button
                key={p.id}
                type="button"
                className={activePreset?.id === p.id ? "preset active" : "preset"}
                aria-pressed={activePreset?.id === p.id}
                onClick={() => update({ step2: { ...p.step2 }, step3: { ...p.step3 } })}
              >
                <strong>{p.label}</strong>
                <span>{p.description}</span>
              </button>
            ))}
          </div>
          <DurationField
            label="Step 2 (sealed numbers) lasts"
            hint="Both sides enter a number; nothing is compared until the end."
            value={form.step2}
            onChange={(step2) => update({ step2 })}
          />
          <DurationField
            label="Step 3 (live bidding) lasts up to"
            hint="Every change is compared at once. The whole session ends at most 30 days after Step 2 opens."
            value={form.step3}
            onChange={(step3) => update({ step3 })}
          />
          <label className="choice">
            <input type="checkbox" checked={startLater} onChange={(e) => setStartLater(e.target.checked)} />
            <span>Do not open Step 2 before a set time</span>
          </label>
          {startLater && (
            <label>
              Step 2 opens no earlier than
              <input
                type="datetime-local"
                value={form.startAt === null ? "" : toLocalInputValue(form.startAt)}
                onChange={(e) => update({ startAt: fromLocalInputValue(e.target.value) })}
              />
            </label>
          )}
        </fieldset>

        <fieldset>
          <legend>Limits</legend>
          <div className="row wrap">
            <Field label="Currency">
              {(id) => (
                <select id={id} value={form.currency} onChange={(e) => update({ currency: e.target.value })}>
                  {CURRENCIES.map((c) => (
                    <option key={c}>{c}</option>
                  ))}
                </select>
              )}
            </Field>
            <label>
              Number changes allowed per 24 hours (Step 3)
              <input
                type="number"
                min="1"
                max="100"
                value={form.maxChangesPerDay}
                onChange={(e) => update({ maxChangesPerDay: e.target.value })}
              />
            </label>
            <Field label="Early-number bonus">
              {(id) => (
                <select
                  id={id}
                  value={form.bonusPercent}
                  onChange={(e) => update({ bonusPercent: e.target.value })}
                >
                  {BONUS_CHOICES.map((pct) => (
                    <option key={pct} value={String(pct)}>
                      {pct === 0 ? "None" : `${pct}%`}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
          <p className="hint">
            The bonus rewards the side whose number was standing when a Step 3 change makes a deal: the amount
            moves by that percent in its favour.
          </p>
        </fieldset>

        <Field label="Terms (everything except the amount)" hint="(optional; both sides can edit them later)">
          {(id) => (
            <textarea
              id={id}
              rows={5}
              placeholder="Release of all claims; confidentiality; payment within 30 days of $_____."
              value={form.termsText}
              onChange={(e) => update({ termsText: e.target.value })}
            />
          )}
        </Field>

        <ErrorLine error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Creating…" : "Create session"}
        </button>
      </form>
    </section>
  );
}
