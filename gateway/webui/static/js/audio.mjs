// The alarm tone: while an unacknowledged P1 alarm is open and the
// operator has not muted it, a two-tone beep repeats every two seconds
// (Web Audio: no sound file to load). The browser may keep an audio
// context suspended until the person first clicks or types; the console
// resumes it then.

let ctx = null;
let timer = null;

function context() {
  if (!ctx) {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    ctx = new AC();
  }
  if (ctx.state === 'suspended') ctx.resume().catch(() => {});
  return ctx;
}

function tone(c, freq, start, dur) {
  const osc = c.createOscillator();
  const gain = c.createGain();
  osc.type = 'square';
  osc.frequency.value = freq;
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + dur);
  osc.connect(gain).connect(c.destination);
  osc.start(start);
  osc.stop(start + dur + 0.02);
}

function beep() {
  const c = context();
  if (!c) return;
  const now = c.currentTime;
  tone(c, 880, now, 0.22);
  tone(c, 660, now + 0.25, 0.22);
  tone(c, 880, now + 0.5, 0.22);
}

// setAlarming starts or stops the repeating tone.
export function setAlarming(on) {
  if (on && !timer) {
    beep();
    timer = setInterval(beep, 2000);
  } else if (!on && timer) {
    clearInterval(timer);
    timer = null;
  }
}

export function unlockAudio() { if (ctx && ctx.state === 'suspended') ctx.resume().catch(() => {}); }

// For tests and the screen: is the tone on, and may the browser play it.
export function audioStatus() { return { playing: timer !== null, state: ctx ? ctx.state : 'none' }; }
