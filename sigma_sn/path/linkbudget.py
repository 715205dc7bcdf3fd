"""Link budget: free-space path loss, antenna gains, atmospheric loss, SNR, and from the
SNR a DVB-S2 MODCOD (so a rate) and a packet loss probability.

All functions take arrays (range, elevation) and broadcast. The received power has the
form the planner's strongest-signal policy uses (EIRP − FSPL − A_z / sin ε), plus the
receive gain, so both rank satellites alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sigma_sn.geometry import C_KM_S

#: Boltzmann's constant, 10·log10(1.380649e-23 J/K) dBW/(K·Hz)
BOLTZMANN_DBW_PER_K_HZ = -228.5991
#: Ku user downlink: middle of the 10.7–12.7 GHz FSS space-to-Earth band Starlink's user
#: beams use (SpaceX FCC application SAT-LOA-20161115-00118); the planner's default too
KU_USER_DOWNLINK_HZ = 11.7e9
#: Ka gateway downlink: within the 17.8–19.3 GHz FSS space-to-Earth band of the same
#: application's gateway links
KA_GATEWAY_DOWNLINK_HZ = 18.5e9

# DVB-S2 MODCODs: ideal Es/N0 (dB) for quasi-error-free operation (PER 1e-7, normal
# 64,800-bit frames, AWGN) and spectral efficiency (bit/symbol), from ETSI EN 302 307-1
# V1.4.1 (2014-11), Table 13.
DVB_S2_MODCODS = (
    ("QPSK 1/4", -2.35, 0.490243), ("QPSK 1/3", -1.24, 0.656448),
    ("QPSK 2/5", -0.30, 0.789412), ("QPSK 1/2", 1.00, 0.988858),
    ("QPSK 3/5", 2.23, 1.188304), ("QPSK 2/3", 3.10, 1.322253),
    ("QPSK 3/4", 4.03, 1.487473), ("QPSK 4/5", 4.68, 1.587196),
    ("QPSK 5/6", 5.18, 1.654663), ("QPSK 8/9", 6.20, 1.766451),
    ("QPSK 9/10", 6.42, 1.788612), ("8PSK 3/5", 5.50, 1.779991),
    ("8PSK 2/3", 6.62, 1.980636), ("8PSK 3/4", 7.91, 2.228124),
    ("8PSK 5/6", 9.35, 2.478562), ("8PSK 8/9", 10.69, 2.646012),
    ("8PSK 9/10", 10.98, 2.679207), ("16APSK 2/3", 8.97, 2.637201),
    ("16APSK 3/4", 10.21, 2.966728), ("16APSK 4/5", 11.03, 3.165623),
    ("16APSK 5/6", 11.61, 3.300184), ("16APSK 8/9", 12.89, 3.523143),
    ("16APSK 9/10", 13.13, 3.567342), ("32APSK 3/4", 12.73, 3.703295),
    ("32APSK 4/5", 13.64, 3.951571), ("32APSK 5/6", 14.28, 4.119540),
    ("32APSK 8/9", 15.69, 4.397854), ("32APSK 9/10", 16.05, 4.453027),
)
#: PER at the lowest MODCOD's threshold minus this (dB) is 1: LDPC codes fall from PER 1 to
#: quasi error free within about a decibel (the "waterfall"); modelled log-linear in dB
WATERFALL_DB = 1.0
QEF_PER = 1e-7


@dataclass(frozen=True)
class LinkBudget:
    """One radio link's parameters (defaults: a LEO Ku user downlink).

    ``eirp_dbw``: the planner's representative Ku user-beam EIRP. ``rx_gain_dbi`` and
    ``system_noise_k``: assumed values of a Ku flat-panel terminal (G/T ≈ 9.8 dB/K).
    ``symbol_rate_baud``: a 250 MHz channel at roll-off 0.1. ``zenith_loss_db``: the
    atmosphere's loss at zenith, A_z (scaled by 1/sin ε, the cosecant law); 0.5 dB is
    about what ITU-R P.618 gives at 11.7 GHz for 1 % of the time at temperate sites
    (:func:`zenith_loss_itur_db`: Madrid 0.33 dB, Rio de Janeiro 1.28 dB).
    ``margin_db``: adaptive coding keeps this above the chosen MODCOD's threshold.
    """

    frequency_hz: float = KU_USER_DOWNLINK_HZ
    eirp_dbw: float = 36.7
    rx_gain_dbi: float = 33.2
    system_noise_k: float = 218.0
    symbol_rate_baud: float = 250e6 / 1.1
    zenith_loss_db: float = 0.5
    margin_db: float = 1.0

    def __post_init__(self):
        for name in ("frequency_hz", "system_noise_k", "symbol_rate_baud"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("zenith_loss_db", "margin_db"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def g_over_t_db_per_k(self) -> float:
        return self.rx_gain_dbi - 10.0 * np.log10(self.system_noise_k)


def fspl_db(range_km, frequency_hz):
    """Free-space path loss 20·log10(4π·d·f/c), dB."""
    return 20.0 * np.log10(4.0 * np.pi * np.asarray(range_km, float) * frequency_hz / C_KM_S)


def atmospheric_loss_db(elev_deg, zenith_loss_db):
    """Cosecant law A_z / sin ε (valid above some 10°; ε floored at 1° so a 0° mask
    stays finite, as the planner does)."""
    sin_e = np.sin(np.radians(np.maximum(np.asarray(elev_deg, float), 1.0)))
    return zenith_loss_db / sin_e


def received_power_dbw(range_km, elev_deg, budget: LinkBudget):
    """Carrier power at the receiver's output (dBW): EIRP − FSPL − atmosphere + gain."""
    return (budget.eirp_dbw - fspl_db(range_km, budget.frequency_hz)
            - atmospheric_loss_db(elev_deg, budget.zenith_loss_db) + budget.rx_gain_dbi)


def snr_db(range_km, elev_deg, budget: LinkBudget):
    """Es/N0 (dB) over the symbol rate: C/N0 = EIRP − L + G/T − k, minus 10·log10(Rs)."""
    c_n0 = (budget.eirp_dbw - fspl_db(range_km, budget.frequency_hz)
            - atmospheric_loss_db(elev_deg, budget.zenith_loss_db)
            + budget.g_over_t_db_per_k - BOLTZMANN_DBW_PER_K_HZ)
    return c_n0 - 10.0 * np.log10(budget.symbol_rate_baud)


def _table():
    es_n0 = np.array([m[1] for m in DVB_S2_MODCODS])
    eff = np.array([m[2] for m in DVB_S2_MODCODS])
    # adaptive coding picks the most efficient MODCOD that fits: keep, for increasing
    # thresholds, only MODCODs more efficient than every cheaper one
    order = np.argsort(es_n0, kind="stable")
    best = np.maximum.accumulate(eff[order])
    keep = order[np.concatenate([[True], best[1:] > best[:-1]])]
    return es_n0[keep], eff[keep], keep


def modcod(snr_db_, margin_db: float = 1.0):
    """Return the index into :data:`DVB_S2_MODCODS` of the MODCOD adaptive coding picks
    at ``snr_db_`` (the most efficient one with threshold + margin at or below it; -1
    when none fits) and its spectral efficiency (bit/symbol; 0 when none)."""
    es_n0, eff, index = _table()
    k = np.searchsorted(es_n0 + margin_db, np.asarray(snr_db_, float), side="right") - 1
    pick = np.maximum(k, 0)
    return np.where(k >= 0, index[pick], -1), np.where(k >= 0, eff[pick], 0.0)


def rate_bps(snr_db_, budget: LinkBudget):
    """Link rate (bit/s): the picked MODCOD's efficiency times the symbol rate."""
    return modcod(snr_db_, budget.margin_db)[1] * budget.symbol_rate_baud


def loss_probability(snr_db_, margin_db: float = 1.0):
    """Packet loss probability at ``snr_db_``: quasi error free (1e-7) while a MODCOD fits;
    below the lowest one's threshold + margin, down the waterfall to 1 a decibel lower
    (log-linear in dB) — the link is lost."""
    lowest = min(m[1] for m in DVB_S2_MODCODS) + margin_db
    x = np.clip((np.asarray(snr_db_, float) - (lowest - WATERFALL_DB)) / WATERFALL_DB, 0, 1)
    return 10.0 ** (np.log10(QEF_PER) * x)


@lru_cache(maxsize=256)
def zenith_loss_itur_db(lat_deg: float, lon_deg: float, frequency_hz: float,
                        exceedance_pct: float = 1.0, antenna_m: float = 0.6) -> float:
    """Total atmospheric loss at zenith (gas, cloud, rain, scintillation; dB) exceeded
    ``exceedance_pct`` % of the year, from ITU-R P.618 through the ``itur`` package
    (``pip install itur``: it runs offline from the maps it ships; its first call loads
    them, some seconds). Feed it to :attr:`LinkBudget.zenith_loss_db`."""
    try:
        import itur
    except ImportError:
        raise ImportError("zenith_loss_itur_db needs the itur package: pip install "
                          "'sigma-sn[atmosphere]'; or give LinkBudget.zenith_loss_db "
                          "yourself") from None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = itur.atmospheric_attenuation_slant_path(lat_deg, lon_deg, frequency_hz / 1e9,
                                                    90.0, exceedance_pct, antenna_m)
    return float(np.asarray(a.value if hasattr(a, "value") else a))
