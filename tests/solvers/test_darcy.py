import pytest
import torch

from specops.solvers.darcy import Darcy
from specops.solvers.random_fields import CosineRandomField, ThresholdedField
from specops.solvers.reference import darcy_manufactured
from tests.helpers import assert_close, fitted_slope


def _manufactured(n):
    x = torch.linspace(0, 1, n, dtype=torch.float64)
    xx, yy = torch.meshgrid(x, x, indexing="ij")
    return darcy_manufactured(xx, yy)


@pytest.mark.parametrize("face_average", ["harmonic", "arithmetic"])
def test_second_order_convergence_on_a_manufactured_solution(face_average):
    sizes, errors = [17, 33, 65], []
    for n in sizes:
        a, f, u = _manufactured(n)
        sol = Darcy(n, face_average=face_average).solve(a.reshape(1, 1, n, n), f)[0, 0]
        errors.append((sol - u).abs().max().item())
    slope = fitted_slope([1 / (n - 1) for n in sizes], errors)
    print(f"{face_average}: errors {errors}, slope {slope:.2f}")
    assert abs(slope - 2) < 0.15
    assert errors[-1] < 2e-3


def test_cg_agrees_with_the_direct_solve_on_fno_coefficients():
    n = 33
    a = (
        ThresholdedField(CosineRandomField((n, n), 2, 3), 12, 3)
        .sample([0, 1, 2], dtype=torch.float64)
        .unsqueeze(1)
    )
    direct = Darcy(n).solve(a)
    cg = Darcy(n, method="cg", rtol=1e-12).solve(a)
    assert_close(cg, direct, atol=1e-10 * direct.abs().max().item(), rtol=0, what="CG vs direct")
    assert bool((direct[:, :, 1:-1, 1:-1] > 0).all()), "maximum principle: f = 1 > 0 gives u > 0 inside"
    assert bool((direct[:, :, 0] == 0).all() and (direct[:, :, :, -1] == 0).all())
    for b in range(3):  # the matrix is the operator the CG applies, and symmetric
        mat = Darcy(n).matrix(a[b, 0])
        assert abs(mat - mat.T).max() == 0
        applied = Darcy(n).apply(a[b], direct[b])[0, 1:-1, 1:-1].reshape(-1).numpy()
        assert_close(
            torch.from_numpy(mat @ direct[b, 0, 1:-1, 1:-1].reshape(-1).numpy()),
            torch.from_numpy(applied),
            atol=0,
            rtol=1e-12,
        )


def test_unit_coefficient_gives_the_five_point_laplacian():
    n = 9
    mat = Darcy(n).matrix(torch.ones(n, n, dtype=torch.float64)).toarray()
    h2 = (n - 1) ** 2
    assert (mat.diagonal() == 4 * h2).all()
    assert mat[0, 1] == -h2 and mat[0, n - 2] == -h2 and mat[0, 2] == 0


def test_harmonic_average_limits_flux_through_a_low_permeability_layer():
    """A layer of a = 3 across the domain: harmonic faces see it, arithmetic ones let flux leak around."""
    n = 33
    a = torch.full((1, 1, n, n), 12.0, dtype=torch.float64)
    a[..., 16, :] = 3.0
    harmonic = Darcy(n).solve(a, 1.0)
    arithmetic = Darcy(n, face_average="arithmetic").solve(a, 1.0)
    assert harmonic.max() > arithmetic.max()


def test_errors_name_the_argument():
    solver = Darcy(9)
    with pytest.raises(ValueError, match=r"a has shape \(2, 8, 8\); expected \(batch, 1, 9, 9\)"):
        solver.solve(torch.ones(2, 8, 8))
    with pytest.raises(ValueError, match="strictly positive"):
        solver.solve(torch.zeros(1, 1, 9, 9))
    with pytest.raises(ValueError, match=r"f has shape \(3, 3\)"):
        solver.solve(torch.ones(1, 1, 9, 9), torch.ones(3, 3))
    with pytest.raises(ValueError, match="face_average='geometric'"):
        Darcy(9, face_average="geometric")
    with pytest.raises(RuntimeError, match="did not reach rtol"):
        Darcy(33, method="cg", maxiter=3).solve(torch.ones(1, 1, 33, 33))
