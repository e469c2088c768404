# Reference values for tests/test_closedform.py: the closed-form statistics of ucmsc.stats, from base R 4.x only.
# Run from tests/reference (make reference); reads data/closedform_*.csv (tests/r/make_data_closedform.py) and writes
# closedform_signed_rank.csv, closedform_two_sample.csv, closedform_tables.csv and closedform_versions.csv.
#   signed rank: wilcox.test(x, exact = FALSE, correct = TRUE) (V, P) and wilcox.test(x) with R's defaults (P).
#   two samples: t.test(var.equal = TRUE / FALSE), wilcox.test(x, y, exact = FALSE, correct = TRUE).
#   2 x 2 tables: Wilson limits from prop.test(correct = FALSE), combined into Newcombe's (1998) method 10;
#   Miettinen-Nurminen (1985) limits with the restricted MLE from the likelihood's score equation (uniroot), not from
#   the closed-form cubic the Python code uses; Wald by formula; chisq.test(correct = FALSE); fisher.test (P, odds
#   ratio and CI as printed); the same conditional odds ratio and CI solved to 1e-14 (fisher.test's uniroot stops at
#   its default tol, about 1e-4, so its limits can be 1 % off).
num <- function(x) ifelse(is.na(x) & !is.nan(x), "NA", sprintf("%.17g", x))
tight <- 1e-14

# --- Wilcoxon signed-rank ----------------------------------------------------------
d <- read.csv("data/closedform_signed_rank.csv")
signed <- do.call(rbind, lapply(split(d$value, factor(d$sample, levels = unique(d$sample))), function(x) {
  approx <- suppressWarnings(wilcox.test(x, exact = FALSE, correct = TRUE))
  default <- suppressWarnings(wilcox.test(x))
  nz <- x[x != 0]
  data.frame(n_nonzero = length(nz), V = unname(approx$statistic), p = approx$p.value, p_default = default$p.value,
             default_exact = as.integer(length(nz) < 50 && !any(duplicated(abs(nz))) && !any(x == 0)))
}))
signed <- cbind(sample = rownames(signed), signed)

# --- two samples -------------------------------------------------------------------
d <- read.csv("data/closedform_two_sample.csv")
two <- do.call(rbind, lapply(unique(d$sample), function(s) {
  x <- d$value[d$sample == s & d$group == "x"]
  y <- d$value[d$sample == s & d$group == "y"]
  rows <- lapply(c(student = TRUE, welch = FALSE), function(eq) {
    r <- t.test(x, y, var.equal = eq)
    c(estimate = unname(r$estimate[1] - r$estimate[2]), lcl = r$conf.int[1], ucl = r$conf.int[2],
      t = unname(r$statistic), df = unname(r$parameter), p = r$p.value)
  })
  mw <- suppressWarnings(wilcox.test(x, y, exact = FALSE, correct = TRUE))
  rbind(data.frame(sample = s, method = c("student", "welch"), do.call(rbind, rows)),
        data.frame(sample = s, method = "mann_whitney", estimate = NA, lcl = NA, ucl = NA,
                   t = unname(mw$statistic), df = NA, p = mw$p.value))
}))

# --- 2 x 2 tables ------------------------------------------------------------------
wilson <- function(x, n) suppressWarnings(prop.test(x, n, correct = FALSE))$conf.int[1:2]

newcombe <- function(x1, n1, x2, n2) {  # Newcombe 1998, method 10
  p1 <- x1 / n1; p2 <- x2 / n2; w1 <- wilson(x1, n1); w2 <- wilson(x2, n2)
  c(p1 - p2 - sqrt((p1 - w1[1])^2 + (w2[2] - p2)^2), p1 - p2 + sqrt((w1[2] - p1)^2 + (p2 - w2[1])^2))
}

restricted <- function(x1, n1, x2, n2, delta) {
  # ML (p1, p2) with p1 - p2 = delta: root in p2 of the log-likelihood's derivative (zero counts drop their terms)
  lo <- max(0, -delta); hi <- min(1, 1 - delta)
  if (lo == hi) return(c(lo + delta, lo))  # delta = -1 or 1: p1 and p2 are fixed
  score <- function(p) {  # a probability rounded below 0 at a bound counts as 0 (an infinite term, the right sign)
    s <- 0
    if (x1 > 0) s <- s + x1 / max(p + delta, 0)
    if (n1 > x1) s <- s - (n1 - x1) / max(1 - p - delta, 0)
    if (x2 > 0) s <- s + x2 / max(p, 0)
    if (n2 > x2) s <- s - (n2 - x2) / max(1 - p, 0)
    max(min(s, 1e300), -1e300)
  }
  p2 <- if (score(lo) <= 0) lo else if (score(hi) >= 0) hi else uniroot(score, c(lo, hi), tol = 1e-15)$root
  c(p2 + delta, p2)
}

miettinen_nurminen <- function(x1, n1, x2, n2, conf = 0.95) {  # Miettinen & Nurminen 1985
  z <- qnorm(1 - (1 - conf) / 2); d <- x1 / n1 - x2 / n2; N <- n1 + n2
  stat <- function(delta) {
    if (delta == d) return(0)
    q <- restricted(x1, n1, x2, n2, delta)
    v <- (q[1] * (1 - q[1]) / n1 + q[2] * (1 - q[2]) / n2) * N / (N - 1)
    (d - delta) / sqrt(max(v, 1e-300))
  }
  c(if (d == -1) -1 else uniroot(function(t) stat(t) - z, c(-1, d), tol = tight)$root,
    if (d == 1) 1 else uniroot(function(t) stat(t) + z, c(d, 1), tol = tight)$root)
}

conditional_or <- function(tab, conf = 0.95) {
  # fisher.test's conditional MLE and central CI (same non-central hypergeometric), solved in log(psi) to 1e-14
  m <- sum(tab[, 1]); n <- sum(tab[, 2]); k <- sum(tab[1, ]); x <- tab[1, 1]
  lo <- max(0, k - n); hi <- min(k, m); support <- lo:hi
  logdc <- dhyper(support, m, n, k, log = TRUE)
  dens <- function(lp) { e <- logdc + lp * support; e <- exp(e - max(e)); e / sum(e) }
  solve <- function(f) { s <- 1; while (f(-s) > 0 || f(s) < 0) s <- 2 * s; exp(uniroot(f, c(-s, s), tol = tight)$root) }
  alpha <- (1 - conf) / 2
  if (lo == hi) return(c(NA, NA, NA))
  c(if (x == lo) 0 else if (x == hi) Inf else solve(function(t) sum(support * dens(t)) - x),
    if (x == lo) 0 else solve(function(t) sum(dens(t)[support >= x]) - alpha),
    if (x == hi) Inf else solve(function(t) alpha - sum(dens(t)[support <= x])))
}

d <- read.csv("data/closedform_tables.csv")
tables <- do.call(rbind, lapply(seq_len(nrow(d)), function(i) {
  x1 <- d$r1[i]; n1 <- d$n1[i]; x2 <- d$r2[i]; n2 <- d$n2[i]
  tab <- matrix(c(x1, x2, n1 - x1, n2 - x2), 2)
  p1 <- x1 / n1; p2 <- x2 / n2; z <- qnorm(0.975)
  wald <- p1 - p2 + c(-1, 1) * z * sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
  chi <- suppressWarnings(chisq.test(tab, correct = FALSE))
  f <- fisher.test(tab)
  or <- conditional_or(tab)
  w1 <- wilson(x1, n1); w2 <- wilson(x2, n2)
  nc <- newcombe(x1, n1, x2, n2); mn <- miettinen_nurminen(x1, n1, x2, n2)
  data.frame(table = d$table[i], r1 = x1, n1 = n1, r2 = x2, n2 = n2, wilson1_l = w1[1], wilson1_u = w1[2],
             wilson2_l = w2[1], wilson2_u = w2[2], newcombe_lcl = nc[1], newcombe_ucl = nc[2], mn_lcl = mn[1],
             mn_ucl = mn[2], wald_lcl = wald[1], wald_ucl = wald[2], chisq = unname(chi$statistic),
             chisq_p = chi$p.value, fisher_p = f$p.value, or_fisher_test = unname(f$estimate),
             or_lcl_fisher_test = f$conf.int[1], or_ucl_fisher_test = f$conf.int[2], or = or[1], or_lcl = or[2],
             or_ucl = or[3])
}))

write_numbers <- function(frame, file) {
  out <- frame
  for (col in names(out)) if (is.numeric(out[[col]])) out[[col]] <- num(out[[col]])
  write.csv(out, file, row.names = FALSE, quote = FALSE)
}
write_numbers(signed, "closedform_signed_rank.csv")
write_numbers(two, "closedform_two_sample.csv")
write_numbers(tables, "closedform_tables.csv")
write.csv(data.frame(name = "r_version", value = R.version.string), "closedform_versions.csv", row.names = FALSE)
