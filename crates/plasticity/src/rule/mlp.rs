//! The multilayer-perceptron rule and its gradient (docs/model.md §2.2):
//! `g_θ(u) = tanh(W_L σ(… σ(W_1 u + b_1) …) + b_L)`, `u = (x, y, w[, r])`, with the leaky
//! ReLU `σ(z) = max(z, 0.01 z)`.
//!
//! Parameters are flat, layer by layer: `W_l` (row-major, `out × in`) then `b_l`.

use super::{LayerState, PlasticityRule, Variables};
use crate::scalar::Scalar;

/// Slope of the leaky ReLU for negative inputs.
pub const LEAKY_SLOPE: f64 = 0.01;

/// An MLP rule with the given hidden layer sizes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MlpRule {
    variables: Variables,
    /// Layer widths from input to output: `[n_in, h_1, …, h_k, 1]`.
    widths: Vec<usize>,
    /// `(weights offset, bias offset, n_out, n_in)` of each layer in θ.
    layers: Vec<(usize, usize, usize, usize)>,
}

impl MlpRule {
    /// An MLP over `variables` with the given hidden sizes (SPEC default: `[10]`).
    pub fn new(variables: Variables, hidden: &[usize]) -> crate::Result<Self> {
        if hidden.contains(&0) {
            return Err(crate::Error::config(
                "hidden",
                "every hidden layer needs at least one unit",
            ));
        }
        let mut widths = vec![variables.count()];
        widths.extend_from_slice(hidden);
        widths.push(1);
        let mut layers = Vec::with_capacity(widths.len() - 1);
        let mut offset = 0;
        for pair in widths.windows(2) {
            let (n_in, n_out) = (pair[0], pair[1]);
            // θ's length must be countable (sizes from a file may be anything)
            let ends = n_in
                .checked_mul(n_out)
                .and_then(|n| n.checked_add(offset))
                .and_then(|bias| Some((bias, bias.checked_add(n_out)?)));
            let Some((bias, end)) = ends else {
                return Err(crate::Error::config(
                    "hidden",
                    format!("layers of {hidden:?} units have more parameters than can be counted"),
                ));
            };
            layers.push((offset, bias, n_out, n_in));
            offset = end;
        }
        Ok(MlpRule {
            variables,
            widths,
            layers,
        })
    }

    /// Hidden layer sizes.
    pub fn hidden(&self) -> &[usize] {
        &self.widths[1..self.widths.len() - 1]
    }

    fn layers(&self) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
        self.layers.iter().copied()
    }

    /// Parameter names: `layer{l}.weight[{out},{in}]` and `layer{l}.bias[{out}]`.
    pub fn parameter_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.n_parameters());
        for (l, (_, _, n_out, n_in)) in self.layers().enumerate() {
            for o in 0..n_out {
                for i in 0..n_in {
                    names.push(format!("layer{l}.weight[{o},{i}]"));
                }
            }
            for o in 0..n_out {
                names.push(format!("layer{l}.bias[{o}]"));
            }
        }
        names
    }

    fn max_width(&self) -> usize {
        self.widths.iter().copied().max().unwrap_or(1)
    }

    fn total_hidden(&self) -> usize {
        self.widths[1..].iter().sum()
    }

    /// Forward pass for one synapse; stores pre-activations of every layer (input
    /// excluded) in `pre`, layer after layer, and returns `g`.
    #[inline]
    fn forward_synapse<S: Scalar>(
        &self,
        theta: &[S],
        input: &[S],
        pre: &mut [S],
        buffer: &mut [S],
    ) -> S {
        let slope = S::from_f64(LEAKY_SLOPE);
        let n_layers = self.widths.len() - 1;
        let mut pre_offset = 0;
        let mut current_len = input.len();
        buffer[..current_len].copy_from_slice(input);
        for (l, (w_off, b_off, n_out, n_in)) in self.layers().enumerate() {
            for o in 0..n_out {
                let mut z = theta[b_off + o];
                let row = &theta[w_off + o * n_in..w_off + (o + 1) * n_in];
                for (wk, ak) in row.iter().zip(&buffer[..current_len]) {
                    z += *wk * *ak;
                }
                pre[pre_offset + o] = z;
            }
            // activations for the next layer
            for o in 0..n_out {
                let z = pre[pre_offset + o];
                buffer[o] = if l + 1 == n_layers {
                    z.tanh()
                } else if z.re() >= 0.0 {
                    z
                } else {
                    z * slope
                };
            }
            current_len = n_out;
            pre_offset += n_out;
        }
        buffer[0]
    }
}

impl PlasticityRule for MlpRule {
    fn n_parameters(&self) -> usize {
        self.widths.windows(2).map(|p| p[0] * p[1] + p[1]).sum()
    }

    fn variables(&self) -> Variables {
        self.variables
    }

    fn scratch_len(&self, n_pre: usize) -> usize {
        // input, pre-activations, two activation buffers; or, for one hidden layer,
        // the output pre-activation and its adjoint per presynaptic neuron
        (4 + self.total_hidden() + 2 * self.max_width().max(4)).max(2 * n_pre)
    }

    fn update<S: Scalar>(
        &self,
        theta: &[S],
        layer: LayerState<'_, S>,
        weights: &mut [S],
        scratch: &mut [S],
    ) {
        if self.layers.len() == 2 {
            return self.update_one_hidden(theta, layer, weights, scratch);
        }
        let n_pre = layer.pre.len();
        let n_in = self.variables.count();
        let total_hidden = self.total_hidden();
        let width = self.max_width().max(4);
        let (input, rest) = scratch.split_at_mut(4);
        let (pre, rest) = rest.split_at_mut(total_hidden);
        let (buffer, _) = rest.split_at_mut(width);
        if n_in == 4 {
            input[3] = layer.reward;
        }
        for (row, &y) in weights.chunks_exact_mut(n_pre).zip(layer.post) {
            input[1] = y;
            for (w, &xj) in row.iter_mut().zip(layer.pre) {
                input[0] = xj;
                input[2] = *w;
                let g = self.forward_synapse(theta, &input[..n_in], pre, buffer);
                *w += layer.learning_rate * g;
            }
        }
    }

    fn update_vjp<S: Scalar>(
        &self,
        theta: &[S],
        layer: LayerState<'_, S>,
        weights_before: &[S],
        weights_adjoint: &mut [S],
        post_adjoint: &mut [S],
        theta_adjoint: &mut [S],
        scratch: &mut [S],
    ) {
        if self.layers.len() == 2 {
            return self.update_vjp_one_hidden(
                theta,
                layer,
                weights_before,
                weights_adjoint,
                post_adjoint,
                theta_adjoint,
                scratch,
            );
        }
        let n_pre = layer.pre.len();
        let n_in = self.variables.count();
        let total_hidden = self.total_hidden();
        let width = self.max_width().max(4);
        let slope = S::from_f64(LEAKY_SLOPE);
        let (input, rest) = scratch.split_at_mut(4);
        let (pre, rest) = rest.split_at_mut(total_hidden);
        let (buffer, rest) = rest.split_at_mut(width);
        let (delta, _) = rest.split_at_mut(width);
        if n_in == 4 {
            input[3] = layer.reward;
        }
        let layers = &self.layers;
        let n_layers = layers.len();
        for (((w_row, lambda_row), &y), y_adjoint) in weights_before
            .chunks_exact(n_pre)
            .zip(weights_adjoint.chunks_exact_mut(n_pre))
            .zip(layer.post)
            .zip(post_adjoint.iter_mut())
        {
            input[1] = y;
            for ((lambda, &wv), &xj) in lambda_row.iter_mut().zip(w_row).zip(layer.pre) {
                input[0] = xj;
                input[2] = wv;
                let g = self.forward_synapse(theta, &input[..n_in], pre, buffer);
                // ḡ = η λ; through tanh
                let mut upstream_len = 1;
                delta[0] = layer.learning_rate * *lambda * (S::one() - g * g);
                let mut pre_end = total_hidden;
                for l in (0..n_layers).rev() {
                    let (w_off, b_off, n_out, n_in_l) = layers[l];
                    let pre_start = pre_end - n_out;
                    debug_assert_eq!(upstream_len, n_out);
                    // activation a_{l-1} of this layer's input
                    let input_pre_start = pre_start.wrapping_sub(n_in_l);
                    for o in 0..n_out {
                        let d = delta[o];
                        theta_adjoint[b_off + o] += d;
                        for k in 0..n_in_l {
                            let a = if l == 0 {
                                input[k]
                            } else {
                                let z = pre[input_pre_start + k];
                                if z.re() >= 0.0 {
                                    z
                                } else {
                                    z * slope
                                }
                            };
                            theta_adjoint[w_off + o * n_in_l + k] += d * a;
                        }
                    }
                    // adjoint of this layer's input
                    for k in 0..n_in_l {
                        let mut sum = S::zero();
                        for o in 0..n_out {
                            sum += theta[w_off + o * n_in_l + k] * delta[o];
                        }
                        buffer[k] = if l > 0 && pre[input_pre_start + k].re() < 0.0 {
                            sum * slope
                        } else {
                            sum
                        };
                    }
                    delta[..n_in_l].copy_from_slice(&buffer[..n_in_l]);
                    upstream_len = n_in_l;
                    pre_end = pre_start;
                }
                // delta now holds ∂(η λ g)/∂u
                *y_adjoint += delta[1];
                *lambda += delta[2];
            }
        }
    }

    fn evaluate<S: Scalar>(&self, theta: &[S], x: S, y: S, w: S, r: S) -> S {
        let mut scratch = vec![S::zero(); self.scratch_len(1)];
        let total_hidden = self.total_hidden();
        let (input, rest) = scratch.split_at_mut(4);
        let (pre, buffer) = rest.split_at_mut(total_hidden);
        input.copy_from_slice(&[x, y, w, r]);
        self.forward_synapse(theta, &input[..self.variables.count()], pre, buffer)
    }
}

/// The leaky ReLU `σ(z) = max(z, 0.01 z)` and its derivative.
#[inline(always)]
fn leaky<S: Scalar>(z: S) -> (S, S) {
    // a select between two constants rather than a branch: the sign of z is random
    // across synapses, and a mispredicted branch per unit dominated this kernel
    let slope = S::from_f64(if z.re() >= 0.0 { 1.0 } else { LEAKY_SLOPE });
    (z * slope, slope)
}

/// The kernels of the default architecture, one hidden layer of `H` units, factorised
/// over the layer: `z_k = U_k0 x_j + (U_k1 y_i + U_k3 r + b_k) + U_k2 w_ij`, the part in
/// brackets computed once per row, and the hidden units looped outside the synapses so
/// that each pass over a row is a simple vector operation.
impl MlpRule {
    /// `(U, b, v, c)` of `g = tanh(v · σ(U u + b) + c)`.
    fn one_hidden<'t, S: Scalar>(&self, theta: &'t [S]) -> (&'t [S], &'t [S], &'t [S], S) {
        let (u_off, b_off, n_hidden, n_in) = self.layers[0];
        let (v_off, c_off, _, _) = self.layers[1];
        (
            &theta[u_off..u_off + n_hidden * n_in],
            &theta[b_off..b_off + n_hidden],
            &theta[v_off..v_off + n_hidden],
            theta[c_off],
        )
    }

    /// The part of unit `k`'s pre-activation shared by a row: `U_k1 y + U_k3 r + b_k`.
    #[inline(always)]
    fn row_offset<S: Scalar>(&self, u: &[S], b: &[S], k: usize, y: S, r: S) -> S {
        let n_in = self.variables.count();
        let mut offset = b[k] + u[k * n_in + 1] * y;
        if n_in == 4 {
            offset += u[k * n_in + 3] * r;
        }
        offset
    }

    /// `output[j] = c + Σ_k v_k σ(z_kj)` for one row.
    #[inline(always)]
    fn row_output<S: Scalar>(
        &self,
        theta: &[S],
        pre: &[S],
        y: S,
        r: S,
        w_row: &[S],
        output: &mut [S],
    ) {
        let (u, b, v, c) = self.one_hidden(theta);
        let n_in = self.variables.count();
        output.iter_mut().for_each(|o| *o = c);
        for k in 0..v.len() {
            let offset = self.row_offset(u, b, k, y, r);
            let (ux, uw, vk) = (u[k * n_in], u[k * n_in + 2], v[k]);
            for ((o, &xj), &w) in output.iter_mut().zip(pre).zip(w_row) {
                *o += vk * leaky(offset + ux * xj + uw * w).0;
            }
        }
    }

    fn update_one_hidden<S: Scalar>(
        &self,
        theta: &[S],
        layer: LayerState<'_, S>,
        weights: &mut [S],
        scratch: &mut [S],
    ) {
        let n_pre = layer.pre.len();
        let output = &mut scratch[..n_pre];
        for (row, &y) in weights.chunks_exact_mut(n_pre).zip(layer.post) {
            self.row_output(theta, layer.pre, y, layer.reward, row, output);
            for (w, &o) in row.iter_mut().zip(output.iter()) {
                *w += layer.learning_rate * o.tanh();
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn update_vjp_one_hidden<S: Scalar>(
        &self,
        theta: &[S],
        layer: LayerState<'_, S>,
        weights_before: &[S],
        weights_adjoint: &mut [S],
        post_adjoint: &mut [S],
        theta_adjoint: &mut [S],
        scratch: &mut [S],
    ) {
        let n_pre = layer.pre.len();
        let n_in = self.variables.count();
        let (u, b, v, _) = self.one_hidden(theta);
        let (u_off, b_off, n_hidden, _) = self.layers[0];
        let (v_off, c_off, _, _) = self.layers[1];
        let r = layer.reward;
        let (output, rest) = scratch.split_at_mut(n_pre);
        let output_adjoint = &mut rest[..n_pre];
        for (((w_row, lambda_row), &y), y_adjoint) in weights_before
            .chunks_exact(n_pre)
            .zip(weights_adjoint.chunks_exact_mut(n_pre))
            .zip(layer.post)
            .zip(post_adjoint.iter_mut())
        {
            self.row_output(theta, layer.pre, y, r, w_row, output);
            // ō_j = η λ_ij (1 − g²), the adjoint of the output pre-activation
            let mut c_adjoint = S::zero();
            for ((o_bar, &o), &lambda) in output_adjoint
                .iter_mut()
                .zip(output.iter())
                .zip(&*lambda_row)
            {
                let g = o.tanh();
                *o_bar = layer.learning_rate * lambda * (S::one() - g * g);
                c_adjoint += *o_bar;
            }
            theta_adjoint[c_off] += c_adjoint;
            let mut y_bar = S::zero();
            for k in 0..n_hidden {
                let offset = self.row_offset(u, b, k, y, r);
                let (ux, uw, vk) = (u[k * n_in], u[k * n_in + 2], v[k]);
                // Σ_j of z̄_kj, z̄_kj x_j, z̄_kj w_ij and ō_j σ(z_kj)
                let (mut sum, mut sum_x, mut sum_w, mut sum_v) =
                    (S::zero(), S::zero(), S::zero(), S::zero());
                for (((lambda, &o_bar), &xj), &w) in lambda_row
                    .iter_mut()
                    .zip(output_adjoint.iter())
                    .zip(layer.pre)
                    .zip(w_row)
                {
                    let (a, slope) = leaky(offset + ux * xj + uw * w);
                    let z_bar = o_bar * vk * slope;
                    sum += z_bar;
                    sum_x += z_bar * xj;
                    sum_w += z_bar * w;
                    sum_v += o_bar * a;
                    *lambda += z_bar * uw;
                }
                theta_adjoint[v_off + k] += sum_v;
                theta_adjoint[b_off + k] += sum;
                theta_adjoint[u_off + k * n_in] += sum_x;
                theta_adjoint[u_off + k * n_in + 1] += sum * y;
                theta_adjoint[u_off + k * n_in + 2] += sum_w;
                if n_in == 4 {
                    theta_adjoint[u_off + k * n_in + 3] += sum * r;
                }
                y_bar += sum * u[k * n_in + 1];
            }
            *y_adjoint += y_bar;
        }
    }
}
