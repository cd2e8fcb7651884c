"""GCRO-DR, GMRES and recycled CG against direct solves, SciPy's GCROT(m, k), and what recycling must save."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla
import torch

from specops.solvers.linear import (
    GCRODR,
    DirectSolver,
    LinearSolverOptions,
    RecycledCG,
    SystemMatrix,
    make_preconditioner,
)


def laplacian(n: int) -> sp.csr_matrix:
    """Five-point ``-Δ`` on ``n x n`` interior nodes of the unit square, Dirichlet boundary."""
    one = sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1]) * (n + 1) ** 2
    return sp.kronsum(one, one).tocsr()


def convection_diffusion(n: int, speed: float) -> sp.csr_matrix:
    """``-Δu + speed u_x`` (centred): nonsymmetric."""
    d = sp.diags([-np.ones(n - 1), np.ones(n - 1)], [-1, 1]) * (n + 1) / 2
    return (laplacian(n) + speed * sp.kron(d, sp.identity(n))).tocsr()


def outlier_matrix(n: int = 240, n_small: int = 6, seed: int = 0) -> np.ndarray:
    """Nonsymmetric ``S D S^{-1}``: ``n_small`` eigenvalues in ``[1e-3, 1e-2]``, the rest in ``[1, 2]``."""
    rng = np.random.default_rng(seed)
    eig = np.concatenate([np.geomspace(1e-3, 1e-2, n_small), rng.uniform(1, 2, n - n_small)])
    S = np.eye(n) + 0.2 * rng.standard_normal((n, n)) / np.sqrt(n)
    return S @ np.diag(eig) @ np.linalg.inv(S)


def solve(solver, A, b, **kw):
    matrix = A if isinstance(A, SystemMatrix) else SystemMatrix(A, **kw)
    x, info = solver.solve(matrix, matrix.vector(b))
    return x.numpy(), info


@pytest.mark.parametrize("recycle", [0, 8])
def test_gcrodr_solves_nonsymmetric_and_indefinite_systems_to_tolerance(recycle):
    rng = np.random.default_rng(1)
    n = 14
    shifted = (
        laplacian(n) - 200.0 * sp.identity(n * n)
    ).tocsr()  # real, indefinite (eigenvalues of both signs)
    helmholtz = (shifted + 40j * sp.diags(rng.uniform(0, 1, n * n))).tocsr()  # complex, non-Hermitian
    for A in (convection_diffusion(n, 40.0), shifted, helmholtz):
        b = rng.standard_normal(n * n) + (0j if np.iscomplexobj(A.data) else 0)
        for rtol in (1e-6, 1e-10):
            x, info = solve(GCRODR(30, recycle, rtol=rtol, maxiter=20000), A, b)
            residual = np.linalg.norm(b - A @ x) / np.linalg.norm(b)
            assert info.converged and residual <= rtol and abs(info.residual - residual) < 1e-3 * rtol
            exact = sla.spsolve(A.tocsc(), b)
            error = np.linalg.norm(x - exact) / np.linalg.norm(exact)
            # forward error <= condition number x residual; these matrices have cond(A) < 1e4
            assert error <= 1e4 * rtol, (rtol, error)


def test_recycling_on_the_same_matrix_makes_the_second_solve_almost_free():
    A = outlier_matrix()
    b = np.random.default_rng(2).standard_normal(A.shape[0])
    matrix = SystemMatrix(sp.csr_matrix(A))
    solver = GCRODR(20, 6, rtol=1e-8, maxiter=10000)
    _, first = solve(solver, matrix, b)
    _, again = solve(solver, matrix, b + 0.1)  # another right-hand side, the recycled space kept
    _, fresh = solve(GCRODR(20, 6, reuse=False, rtol=1e-8, maxiter=10000), matrix, b + 0.1)
    _, gmres = solve(GCRODR(20, 0, rtol=1e-8, maxiter=10000), matrix, b + 0.1)
    assert first.converged and again.converged and fresh.converged
    # the six small eigenvalues are deflated: what is left is a well-conditioned GMRES run
    assert again.iterations <= 15 and 3 * again.iterations < fresh.iterations, (again, fresh)
    assert fresh.iterations < gmres.iterations  # deflated restarting alone already helps GMRES(20)


def test_recycling_across_nearby_matrices_saves_products():
    base = outlier_matrix(seed=3)
    rng = np.random.default_rng(4)
    perturbed = [sp.csr_matrix(base + 1e-4 * rng.standard_normal(base.shape)) for _ in range(4)]
    b = rng.standard_normal(base.shape[0])
    counts = {}
    for reuse in (True, False):
        solver = GCRODR(20, 6, reuse=reuse, rtol=1e-8, maxiter=10000)
        counts[reuse] = [solve(solver, A, b)[1].matvecs for A in perturbed]
    # the first solve has nothing to recycle; later ones pay k = 6 products for C = A U and still save
    assert counts[True][0] == counts[False][0]
    assert sum(counts[True][1:]) < 0.65 * sum(counts[False][1:]), counts


def test_gcrodr_agrees_with_scipy_gcrotmk_and_gmres_counts_match_restarted_gmres():
    A = convection_diffusion(16, 30.0)
    b = np.random.default_rng(5).standard_normal(A.shape[0])
    x, info = solve(GCRODR(20, 5, rtol=1e-10, maxiter=5000), A, b)
    other, code = sla.gcrotmk(A, b, m=15, k=5, rtol=1e-10, atol=0.0, maxiter=500)
    assert code == 0 and np.linalg.norm(x - other) <= 1e-7 * np.linalg.norm(other)
    # GMRES(m) as k = 0 is restarted GMRES: after two cycles of 20 steps, SciPy's iterate
    x_ours, info = solve(GCRODR(20, 0, rtol=1e-10, maxiter=40), A, b)
    x_scipy, _ = sla.gmres(A, b, restart=20, maxiter=2, rtol=1e-30, atol=0.0)
    assert info.iterations == 40 and info.matvecs == 41 and not info.converged  # + the residual product
    assert np.linalg.norm(x_ours - x_scipy) <= 1e-10 * np.linalg.norm(x_scipy)


def test_recycled_cg_deflates_the_smallest_eigenvalues():
    A = laplacian(24)
    rng = np.random.default_rng(6)
    matrix = SystemMatrix(A, symmetric=True)
    plain = RecycledCG(0, rtol=1e-10, maxiter=5000)
    recycled = RecycledCG(8, 60, rtol=1e-10, maxiter=5000)
    counts = []
    for _ in range(3):
        b = rng.standard_normal(A.shape[0])
        x, info = solve(recycled, matrix, b)
        _, base = solve(plain, matrix, b)
        assert info.converged and np.linalg.norm(b - A @ x) <= 1e-10 * np.linalg.norm(b)
        assert np.allclose(x, sla.spsolve(A.tocsc(), b), rtol=0, atol=1e-8 * np.abs(x).max())
        counts.append((info.iterations, base.iterations))
    assert counts[0][0] == counts[0][1]  # nothing recycled yet: plain CG
    assert counts[2][0] < 0.8 * counts[2][1], counts


@pytest.mark.parametrize("name", ["jacobi", "ilu", "amg"])
def test_preconditioners_cut_iterations_and_keep_the_solution(name):
    if name == "amg":
        pytest.importorskip("pyamg")
    rng = np.random.default_rng(7)
    A = (convection_diffusion(20, 10.0) + sp.diags(rng.uniform(0, 2e4, 400))).tocsr()  # variable diagonal
    b = rng.standard_normal(A.shape[0])
    _, none = solve(GCRODR(30, 5, rtol=1e-8, maxiter=5000), A, b)
    x, info = solve(GCRODR(30, 5, rtol=1e-8, maxiter=5000, preconditioner=make_preconditioner(name)), A, b)
    assert info.converged and np.linalg.norm(b - A @ x) <= 1e-8 * np.linalg.norm(b)
    assert info.iterations < none.iterations


def test_torch_sparse_matvec_gives_the_same_solve():
    A = convection_diffusion(12, 20.0)
    b = np.random.default_rng(8).standard_normal(A.shape[0])
    x_scipy, a = solve(GCRODR(20, 4, rtol=1e-10), A, b)
    x_torch, t = solve(GCRODR(20, 4, rtol=1e-10), A, b, torch_matvec=True)
    assert a.iterations == t.iterations and np.allclose(x_scipy, x_torch, rtol=0, atol=1e-12)
    if torch.cuda.is_available():
        x_gpu, g = solve(GCRODR(20, 4, rtol=1e-10), A, b, device="cuda")
        assert g.converged and np.abs(x_gpu - x_scipy).max() < 1e-8


def test_direct_solver_and_the_iteration_cap():
    A = convection_diffusion(10, 5.0)
    b = np.ones(A.shape[0])
    x, info = solve(DirectSolver(), A, b)
    assert info.residual < 1e-13 and np.allclose(A @ x, b)
    _, capped = solve(GCRODR(10, 3, rtol=1e-12, maxiter=5), A, b)
    assert not capped.converged and capped.matvecs <= 6 and capped.residual > 1e-12


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match=r"solver\.recycle=40 .* 0 < recycle < solver\.restart=40"):
        LinearSolverOptions(method="skr", recycle=40)
    with pytest.raises(ValueError, match=r"solver\.rtol=0.0 must be in \(0, 1\)"):
        LinearSolverOptions(method="gmres", rtol=0.0)
    with pytest.raises(ValueError, match=r"solver\.method=.bicg. is not one of"):
        LinearSolverOptions(method="bicg")
    with pytest.raises(ValueError, match=r"solver\.precond=.ssor."):
        LinearSolverOptions(precond="ssor")
    with pytest.raises(ValueError, match="symmetric positive definite"):
        solve(RecycledCG(0), convection_diffusion(5, 1.0), np.ones(25))
    with pytest.raises(ValueError, match="recycle=3 must be an integer with 0 <= recycle"):
        GCRODR(3, 3)
