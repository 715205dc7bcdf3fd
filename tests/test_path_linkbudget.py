"""Link budget: free-space loss, atmosphere, SNR, MODCOD, loss probability."""

from __future__ import annotations

import numpy as np
import pytest

from sigma_sn.path.linkbudget import (BOLTZMANN_DBW_PER_K_HZ, DVB_S2_MODCODS, QEF_PER,
                                      LinkBudget, atmospheric_loss_db, fspl_db,
                                      loss_probability, modcod, rate_bps, snr_db,
                                      zenith_loss_itur_db)

HUNDREDTH_DB = 0.01


def test_fspl_matches_the_textbook_form():
    # FSPL = 92.45 + 20 log10(d / km) + 20 log10(f / GHz)
    for d_km, f_hz in ((550.0, 11.7e9), (2000.0, 18.5e9)):
        expect = 92.45 + 20 * np.log10(d_km) + 20 * np.log10(f_hz / 1e9)
        assert fspl_db(d_km, f_hz) == pytest.approx(expect, abs=HUNDREDTH_DB)


def test_snr_is_the_budget_summed_by_hand():
    b = LinkBudget(eirp_dbw=40.0, rx_gain_dbi=30.0, system_noise_k=100.0,
                   symbol_rate_baud=1e8, zenith_loss_db=1.0)
    # 40 - FSPL - 1/sin(30 deg) + (30 - 20) + 228.6 - 80
    expect = 40 - fspl_db(1000.0, b.frequency_hz) - 2.0 + 10 - BOLTZMANN_DBW_PER_K_HZ - 80
    assert snr_db(1000.0, 30.0, b) == pytest.approx(expect, abs=1e-9)
    assert snr_db(550.0, 90.0, b) > snr_db(1100.0, 25.0, b)


def test_atmosphere_follows_the_cosecant_law_and_stays_finite_at_the_horizon():
    assert atmospheric_loss_db(90.0, 0.5) == pytest.approx(0.5)
    assert atmospheric_loss_db(30.0, 0.5) == pytest.approx(1.0)
    assert np.isfinite(atmospheric_loss_db(0.0, 0.5))


def test_adaptive_coding_picks_the_most_efficient_modcod_that_fits():
    idx, eff = modcod(np.array([-10.0, -2.35 + 1.0, 7.0, 40.0]), margin_db=1.0)
    names = [DVB_S2_MODCODS[i][0] if i >= 0 else None for i in idx]
    assert names[0] is None and eff[0] == 0
    assert names[1] == "QPSK 1/4"
    # at 7 dB with 1 dB margin: 8PSK 3/5 (5.50) beats QPSK 9/10 (6.42 > 6)
    assert names[2] == "8PSK 3/5"
    assert names[3] == "32APSK 9/10"
    # rates never fall as the SNR rises
    s = np.linspace(-5, 25, 301)
    assert np.all(np.diff(rate_bps(s, LinkBudget())) >= 0)


def test_loss_is_quasi_error_free_above_threshold_and_total_a_decibel_below():
    lowest = min(m[1] for m in DVB_S2_MODCODS) + 1.0
    p = loss_probability(np.array([lowest + 5, lowest, lowest - 0.5, lowest - 1.0, -30.0]))
    assert p[0] == pytest.approx(QEF_PER) and p[1] == pytest.approx(QEF_PER)
    assert QEF_PER < p[2] < 1 and p[3] == pytest.approx(1.0) and p[4] == 1.0


def test_leo_ku_downlink_defaults_give_a_working_link_across_the_pass():
    b = LinkBudget()
    s = snr_db(np.array([550.0, 1123.0]), np.array([90.0, 25.0]), b)
    assert np.all(loss_probability(s, b.margin_db) <= QEF_PER * 1.0001)
    assert np.all(rate_bps(s, b) > 500e6)


def test_itur_zenith_loss_runs_offline_and_is_wetter_in_the_tropics():
    pytest.importorskip("itur")
    madrid = zenith_loss_itur_db(40.4168, -3.7038, 11.7e9)
    rio = zenith_loss_itur_db(-22.9068, -43.1729, 11.7e9)
    assert 0.05 < madrid < rio < 5.0
