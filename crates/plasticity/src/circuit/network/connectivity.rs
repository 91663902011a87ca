//! Which synapses of a projection exist ([`Connectivity`]): dense, or sparse rows
//! (compressed sparse rows), with scatter and gather between the two layouts.

/// Which synapses of an `n_post × n_pre` projection exist, row by row (compressed
/// sparse rows): time and memory are proportional to the synapses that exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connectivity {
    pub(super) n_pre: usize,
    pub(super) n_post: usize,
    pub(super) row_start: Vec<usize>,
    pub(super) pre_index: Vec<usize>,
    pub(super) dense: bool,
}

impl Connectivity {
    /// Every synapse, except `j = i` when `self_synapses` is false (square only).
    pub fn all(n_pre: usize, n_post: usize, self_synapses: bool) -> Self {
        Self::from_fn(n_pre, n_post, |i, j| self_synapses || i != j)
    }

    /// The synapses `(i, j)` for which `present(i, j)`.
    pub fn from_fn(
        n_pre: usize,
        n_post: usize,
        mut present: impl FnMut(usize, usize) -> bool,
    ) -> Self {
        let mut row_start = Vec::with_capacity(n_post + 1);
        let mut pre_index = Vec::new();
        row_start.push(0);
        for i in 0..n_post {
            pre_index.extend((0..n_pre).filter(|&j| present(i, j)));
            row_start.push(pre_index.len());
        }
        let dense = pre_index.len() == n_pre * n_post;
        Connectivity {
            n_pre,
            n_post,
            row_start,
            pre_index,
            dense,
        }
    }

    /// From a row-major `n_post × n_pre` 0/1 mask.
    pub fn from_mask(n_pre: usize, n_post: usize, mask: &[bool]) -> Self {
        Self::from_fn(n_pre, n_post, |i, j| mask[i * n_pre + j])
    }

    /// Presynaptic size.
    pub fn n_pre(&self) -> usize {
        self.n_pre
    }

    /// Postsynaptic size.
    pub fn n_post(&self) -> usize {
        self.n_post
    }

    /// Number of synapses present.
    pub fn n_synapses(&self) -> usize {
        self.pre_index.len()
    }

    /// Whether every synapse is present (rows are whole and in order).
    pub fn is_dense(&self) -> bool {
        self.dense
    }

    /// The synapses of postsynaptic neuron `i`, as positions in the weight vector.
    #[inline]
    pub fn row(&self, i: usize) -> std::ops::Range<usize> {
        self.row_start[i]..self.row_start[i + 1]
    }

    /// Presynaptic index of each synapse.
    pub fn pre_index(&self) -> &[usize] {
        &self.pre_index
    }

    /// The longest row.
    pub fn max_row(&self) -> usize {
        (0..self.n_post)
            .map(|i| self.row(i).len())
            .max()
            .unwrap_or(0)
    }

    /// Row-major `n_post × n_pre` 0/1 mask.
    pub fn mask(&self) -> Vec<bool> {
        self.scatter(&vec![1.0; self.n_synapses()])
            .iter()
            .map(|&v| v != 0.0)
            .collect()
    }

    /// The dense `n_post × n_pre` matrix of `values` (one per synapse), zeros elsewhere.
    pub fn scatter(&self, values: &[f64]) -> Vec<f64> {
        let mut dense = vec![0.0; self.n_pre * self.n_post];
        for i in 0..self.n_post {
            for k in self.row(i) {
                dense[i * self.n_pre + self.pre_index[k]] = values[k];
            }
        }
        dense
    }

    /// The synapses' entries of a dense row-major `n_post × n_pre` matrix.
    pub fn gather(&self, dense: &[f64]) -> Vec<f64> {
        (0..self.n_post)
            .flat_map(|i| self.row(i).map(move |k| (i, k)))
            .map(|(i, k)| dense[i * self.n_pre + self.pre_index[k]])
            .collect()
    }
}
