/**
 * E-model (ITU-T G.107) mean opinion score estimate from network figures, in the simplified form used
 * by VoIP monitors (Cole & Rosenbluth 2001): only delay and loss impairments, default values elsewhere.
 *
 * - one-way delay Ta = RTT/2 + jitter buffer (2 × jitter) + 20 ms packetisation, in ms;
 * - delay impairment Id = 0.024·Ta + 0.11·(Ta − 177.3)·[Ta > 177.3];
 * - loss impairment Ie,eff = Ie + (95 − Ie)·Ppl / (Ppl + Bpl), Ie = 0, Bpl = 25.1 (G.711 with PLC, G.113);
 * - R = 93.2 − Id − Ie,eff, MOS = 1 + 0.035R + 7·10⁻⁶·R(R − 60)(100 − R), clamped to 1..4.5.
 *
 * A perfect network gives about 4.4; 150 ms RTT, 20 ms jitter and 1% loss about 4.1; 5% loss about 3.3.
 */
export function estimateMos(rttSeconds: number, jitterSeconds: number, lossRatio: number): number {
  const rtt = Math.max(rttSeconds, 0);
  const jitter = Math.max(jitterSeconds, 0);
  const loss = lossRatio > 0 ? Math.min(lossRatio, 1) : 0;
  const ta = rtt * 500 + jitter * 2000 + 20;
  const id = 0.024 * ta + (ta > 177.3 ? 0.11 * (ta - 177.3) : 0);
  const ppl = loss * 100;
  const ie = (95 * ppl) / (ppl + 25.1);
  const r = 93.2 - id - ie;
  if (!(r > 0)) return 1;
  if (r >= 100) return 4.5;
  const mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r);
  return mos < 1 ? 1 : Math.min(mos, 4.5);
}
