# Reference values for tests/test_mmrm.py: the MMRM CHG ~ 0 + visit + visit:arm + visit:BASE fitted by REML with an
# unstructured (UN) or compound-symmetry (CS) covariance, on each data/mmrm_<name>.csv (tests/r/make_data_mmrm.py).
# Run from tests/reference (make reference); writes mmrm_<name>.csv with columns
#   stat, covariance (UN / CS), method, visit (blank: the model), group (active / control / contrast / model), value,
#   source; the last rows name the R and package versions.
#
# What each value comes from:
# - method "gls": nlme::gls as it stops, correlation = corSymm(~ k | subject) and weights = varIdent(~ 1 | visit) for
#   UN, corCompSymm(~ 1 | subject) for CS, REML, optimised by optim BFGS with reltol 1e-15 (gls passes msTol to
#   optim, not to its default nlminb): coefficients and vcov, getVarCov, -2 logLik; emmeans' LS means on that fit
#   (BASE at its mean over the analysis records); max_score = its relative score (below).
# - method "model": the REML optimum polished from the gls estimate by Newton steps in SAS's covariance parameters
#   (elements of Sigma for UN; CS covariance and residual for CS) on the dense criterion -2RLL = log|V| + log|X'V^-1X|
#   + r'V^-1 r + (N - p) log 2 pi (equal to nlme's -2 logLik, checked below), with its analytic gradient
#   tr(P V_j) - y'P V_j P y (checked against numDeriv::grad) and numDeriv::hessian, until the relative score
#   max_j |gradient_j| sqrt(Sigma_aa Sigma_bb) / N is below 1e-11: gls stops near 1e-7, which limits the agreement
#   of its outputs to about 1e-6. Estimates, model-based SEs, LS means (emmeans' linfct rows times the GLS beta),
#   the covariance matrix, -2RLL and AIC = -2RLL + 2 x covariance parameters, at that optimum.
# - method "satterthwaite" (as SAS DDFM=SATTERTHWAITE): 2 (L'Phi L)^2 / (g' A g) with g = numDeriv::grad of
#   L'Phi(theta)L and A = 2 H^-1, H = numDeriv::hessian of -2RLL, at the polished optimum.
# - method "kenward-roger" (as SAS DDFM=KR, Kenward & Roger 1997): Phi_A = Phi + 2 Phi sum W_ij (Q_ij - P_i Phi P_j)
#   Phi with P_i = -X'V^-1 V_i V^-1 X and Q_ij = X'V^-1 V_i V^-1 V_j V^-1 X computed densely here and W = 2 H^-1
#   (observed information); df by pbkrtest's Lb_ddf with that W.
# - method "kenward-roger-expected": pbkrtest's own vcovAdj_internal (W from the expected information) on the
#   polished optimum and SAS's parameters, df by Lb_ddf.
# - CS only: "kenward-roger-lmer", pbkrtest vcovAdj / get_Lb_ddf on lme4::lmer(CHG ~ 0 + visit + visit:arm +
#   visit:BASE + (1 | subject), REML = TRUE); "satterthwaite-lmertest", lmerTest::contest on the same lmer fit (Debian
#   package r-cran-lmertest); "lmer", its fixed effects, and its REMLcrit as m2rll.
# - method "satterthwaite-emmeans": emmeans' own df for gls (mode = "satterthwaite", which needs nlme's
#   finite-difference apVar and falls back to "appx-satterthwaite", random perturbations, for UN): for comparison
#   only, not a reference.
# - complete data, method "ancova": lm(CHG ~ arm + BASE) at each visit (the df n - 3 and SE that KR reproduces for UN).
suppressMessages({
  library(nlme); library(emmeans); library(lme4); library(pbkrtest); library(numDeriv)
})

gls_control <- glsControl(tolerance = 1e-12, msTol = 1e-15, maxIter = 1000, msMaxIter = 1e5, opt = "optim",
                          optimMethod = "BFGS")
lmer_control <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-13, maxfun = 1e6), calc.derivs = FALSE)
lmer_formula <- CHG ~ 0 + visit + visit:arm + visit:BASE + (1 | USUBJID)
num17 <- function(x) trimws(formatC(x, digits = 17, format = "g"))

reference <- function(name) {
  d <- read.csv(file.path("data", paste0("mmrm_", name, ".csv")), stringsAsFactors = FALSE)
  d <- d[order(d$USUBJID, d$AVISITN), ]
  visits <- sort(unique(d$AVISITN))
  K <- length(visits)
  d$visit <- factor(d$AVISITN, levels = visits)
  d$arm <- factor(d$ACTIVE, levels = c(0, 1))
  d$k <- as.integer(d$visit)
  X <- model.matrix(~ 0 + visit + visit:arm + visit:BASE, d)
  y <- d$CHG
  N <- nrow(X); p <- ncol(X)
  rows <- split(seq_len(N), factor(d$USUBJID, levels = unique(d$USUBJID)))
  complete <- names(rows)[lengths(rows) == K][1]
  out <- list()
  add <- function(stat, covariance, method, visit, group, value, source) {
    out[[length(out) + 1]] <<- data.frame(stat = stat, covariance = covariance, method = method,
                                          visit = ifelse(is.na(visit), "", as.character(visit)), group = group,
                                          value = num17(as.numeric(value)), source = source)
  }

  for (covariance in c("UN", "CS")) {
    if (covariance == "UN") {
      fit <- gls(CHG ~ 0 + visit + visit:arm + visit:BASE, data = d, correlation = corSymm(form = ~ k | USUBJID),
                 weights = varIdent(form = ~ 1 | visit), method = "REML", control = gls_control)
      pairs <- do.call(rbind, lapply(1:K, function(a) cbind(a, 1:a)))  # SAS order UN(1,1), UN(2,1), UN(2,2), ...
      basis <- lapply(seq_len(nrow(pairs)), function(j) {
        e <- matrix(0, K, K); e[pairs[j, 1], pairs[j, 2]] <- 1; e[pairs[j, 2], pairs[j, 1]] <- 1; e
      })
    } else {
      fit <- gls(CHG ~ 0 + visit + visit:arm + visit:BASE, data = d, correlation = corCompSymm(form = ~ 1 | USUBJID),
                 method = "REML", control = gls_control)
      pairs <- rbind(c(2, 1), c(1, 1))  # CS (covariance), Residual
      basis <- list(matrix(1, K, K), diag(K))  # Sigma = CS J + Residual I
    }
    stopifnot(identical(colnames(X), names(coef(fit))))
    src <- sprintf("nlme::gls %s (REML)", covariance)
    sigma_gls <- unclass(getVarCov(fit, individual = complete))
    attributes(sigma_gls) <- list(dim = c(K, K))
    theta_gls <- if (covariance == "UN") sigma_gls[pairs] else c(sigma_gls[2, 1], sigma_gls[1, 1] - sigma_gls[2, 1])

    sigma_of <- function(th) Reduce(`+`, Map(`*`, th, basis))
    v_of <- function(s) {
      v <- matrix(0, N, N)
      for (r in rows) v[r, r] <- s[d$k[r], d$k[r]]
      v
    }
    vj <- lapply(basis, v_of)
    q <- length(basis)
    dense <- function(th) {
      v <- v_of(sigma_of(th)); vi <- solve(v)
      xtvx <- crossprod(X, vi %*% X); phi <- solve(xtvx)
      beta <- phi %*% crossprod(X, vi %*% y); r <- y - X %*% beta
      pmat <- vi - vi %*% X %*% phi %*% t(X) %*% vi
      py <- pmat %*% y
      list(v = v, vi = vi, phi = phi, beta = beta,
           m2rll = as.numeric(determinant(v)$modulus + determinant(xtvx)$modulus + crossprod(r, vi %*% r) +
                                (N - p) * log(2 * pi)),
           gradient = sapply(vj, function(g) sum(pmat * g) - as.numeric(crossprod(py, g %*% py))))
    }
    m2rll <- function(th) dense(th)$m2rll
    relative_score <- function(th, gradient) {
      s <- sigma_of(th)
      max(abs(gradient) * sqrt(s[cbind(pairs[, 1], pairs[, 1])] * s[cbind(pairs[, 2], pairs[, 2])])) / N
    }
    at <- dense(theta_gls)
    stopifnot(max(abs(at$beta - coef(fit))) < 1e-9 * max(abs(coef(fit))),
              abs(at$m2rll + 2 * as.numeric(logLik(fit))) < 1e-9 * abs(at$m2rll),  # the same criterion as nlme's
              max(abs(at$gradient - numDeriv::grad(m2rll, theta_gls))) < 1e-5)  # numDeriv's own error: up to 1e-6
    gls_score <- relative_score(theta_gls, at$gradient)

    # Newton steps from the gls estimate: analytic gradient, numDeriv Hessian.
    theta <- theta_gls
    for (step in 1:20) {
      if (relative_score(theta, at$gradient) < 1e-11) break
      theta <- theta - solve(numDeriv::hessian(m2rll, theta), at$gradient)
      at <- dense(theta)
    }
    score <- relative_score(theta, at$gradient)
    stopifnot(score < 1e-11)
    message(sprintf("%s %s: relative score %.1e at the gls estimate, %.1e after %d Newton steps", name, covariance,
                    gls_score, score, step - 1))
    sigma <- sigma_of(theta)
    hess <- numDeriv::hessian(m2rll, theta)

    add("m2rll", covariance, "model", NA, "model", at$m2rll, "dense -2RLL at the polished REML optimum")
    add("aic", covariance, "model", NA, "model", at$m2rll + 2 * q, "-2RLL + 2 x covariance parameters")
    add("n_obs", covariance, "model", NA, "model", N, src)
    add("n_subjects", covariance, "model", NA, "model", length(rows), src)
    add("max_score", covariance, "model", NA, "model", score, "analytic gradient of the dense -2RLL")
    add("m2rll", covariance, "gls", NA, "model", -2 * as.numeric(logLik(fit)), paste(src, "logLik"))
    add("max_score", covariance, "gls", NA, "model", gls_score, "analytic gradient of the dense -2RLL")
    for (a in 1:K) for (b in a:K) {
      element <- sprintf("cov_%d_%d", visits[a], visits[b])
      add(element, covariance, "model", NA, "model", sigma[a, b], "polished REML optimum")
      add(element, covariance, "gls", NA, "model", sigma_gls[a, b], paste(src, "getVarCov"))
    }

    # Kenward-Roger pieces (dense): P_j = -X'V^-1 V_j V^-1 X, Q_ij = X'V^-1 V_i V^-1 V_j V^-1 X.
    pp <- lapply(vj, function(g) -crossprod(X, at$vi %*% g %*% at$vi %*% X))
    w_obs <- 2 * solve(hess)
    lam <- matrix(0, p, p)
    for (i in 1:q) for (j in 1:q) {
      qij <- crossprod(X, at$vi %*% vj[[i]] %*% at$vi %*% vj[[j]] %*% at$vi %*% X)
      lam <- lam + w_obs[i, j] * (qij - pp[[i]] %*% at$phi %*% pp[[j]])
    }
    phi_kr <- at$phi + 2 * at$phi %*% lam %*% at$phi
    attr(phi_kr, "P") <- pp
    attr(phi_kr, "W") <- w_obs
    phi_kre <- pbkrtest:::vcovAdj_internal(at$phi, list(Sigma = at$v, G = vj, n.ggamma = q), X)  # carries P and W

    if (covariance == "CS") {
      lfit <- lme4::lmer(lmer_formula, data = d, REML = TRUE, control = lmer_control)
      stopifnot(identical(colnames(X), names(fixef(lfit))))
      phi_lmer <- as.matrix(pbkrtest::vcovAdj(lfit))
      tfit <- lmerTest::lmer(lmer_formula, data = d, REML = TRUE, control = lmer_control)
      add("m2rll", covariance, "lmer", NA, "model", lme4::REMLcrit(lfit), "lme4::REMLcrit (lmer random intercept)")
    }

    # L vectors: the arm difference at each visit, and emmeans' LS-mean rows (BASE at its mean over the records).
    emm <- emmeans(fit, ~ arm | visit, mode = "df.error", data = d, nesting = NULL)
    lsm <- summary(emm)
    lf <- emm@linfct
    set.seed(1)  # emmeans' appx-satterthwaite perturbs the fit at random
    emm_sat <- summary(emmeans(fit, ~ arm | visit, mode = "satterthwaite", data = d, nesting = NULL))
    for (kk in 1:K) {
      cvec <- setNames(numeric(p), colnames(X)); cvec[sprintf("visit%s:arm1", visits[kk])] <- 1
      add("estimate", covariance, "gls", visits[kk], "contrast", sum(cvec * coef(fit)), paste(src, "coef"))
      add("se", covariance, "gls", visits[kk], "contrast", sqrt(sum(cvec * (vcov(fit) %*% cvec))), paste(src, "vcov"))
      targets <- list(contrast = cvec)
      for (arm in c("0", "1")) {
        at_row <- which(lsm$visit == as.character(visits[kk]) & lsm$arm == arm)
        group <- ifelse(arm == "1", "active", "control")
        targets[[group]] <- lf[at_row, ]
        add("lsmean", covariance, "gls", visits[kk], group, lsm$emmean[at_row], "emmeans on gls")
        add("se", covariance, "gls", visits[kk], group, lsm$SE[at_row], "emmeans on gls")
        add("df", covariance, "satterthwaite-emmeans", visits[kk], group, emm_sat$df[at_row],
            "emmeans mode = satterthwaite on gls (nlme apVar)")
      }
      for (group in names(targets)) {
        l <- targets[[group]]
        est <- sum(l * at$beta)
        var0 <- as.numeric(t(l) %*% at$phi %*% l)
        g <- numDeriv::grad(function(th) as.numeric(t(l) %*% dense(th)$phi %*% l), theta)
        df_sat <- 2 * var0^2 / as.numeric(t(g) %*% (2 * solve(hess)) %*% g)
        stat <- ifelse(group == "contrast", "estimate", "lsmean")
        add(stat, covariance, "model", visits[kk], group, est, "GLS at the polished REML optimum")
        add("se", covariance, "model", visits[kk], group, sqrt(var0), "GLS at the polished REML optimum")
        fits <- list(list("satterthwaite", sqrt(var0), df_sat, "numDeriv Jacobian and Hessian of the dense REML"),
                     list("kenward-roger", sqrt(as.numeric(t(l) %*% phi_kr %*% l)),
                          pbkrtest:::Lb_ddf(l, at$phi, phi_kr), "dense KR, observed information; pbkrtest Lb_ddf"),
                     list("kenward-roger-expected", sqrt(as.numeric(t(l) %*% phi_kre %*% l)),
                          pbkrtest:::Lb_ddf(l, at$phi, phi_kre), "pbkrtest vcovAdj_internal at the optimum"))
        if (covariance == "CS") {
          fits[[4]] <- list("kenward-roger-lmer", sqrt(as.numeric(t(l) %*% phi_lmer %*% l)),
                            pbkrtest::get_Lb_ddf(lfit, matrix(l, nrow = 1)), "pbkrtest vcovAdj, get_Lb_ddf on lmer")
          sat <- lmerTest::contest(tfit, matrix(l, nrow = 1), ddf = "Satterthwaite", joint = FALSE)
          fits[[5]] <- list("satterthwaite-lmertest", sat[["Std. Error"]], sat[["df"]], "lmerTest::contest on lmer")
          add(stat, covariance, "lmer", visits[kk], group, sum(l * fixef(lfit)), "lme4::lmer fixef")
        }
        for (f in fits) {
          se <- f[[2]]; df <- f[[3]]; half <- qt(0.975, df) * se
          add("se", covariance, f[[1]], visits[kk], group, se, f[[4]])
          add("df", covariance, f[[1]], visits[kk], group, df, f[[4]])
          add("lcl", covariance, f[[1]], visits[kk], group, est - half, f[[4]])
          add("ucl", covariance, f[[1]], visits[kk], group, est + half, f[[4]])
          if (group == "contrast") {
            add("t", covariance, f[[1]], visits[kk], group, est / se, f[[4]])
            add("p", covariance, f[[1]], visits[kk], group, 2 * pt(-abs(est / se), df), f[[4]])
          }
        }
      }
    }
  }
  if (all(lengths(rows) == K)) {
    for (kk in 1:K) {
      one <- d[d$visit == visits[kk], ]
      co <- summary(lm(CHG ~ arm + BASE, data = one))$coefficients["arm1", ]
      add("estimate", "UN", "ancova", visits[kk], "contrast", co[["Estimate"]], "lm per visit")
      add("se", "UN", "ancova", visits[kk], "contrast", co[["Std. Error"]], "lm per visit")
      add("df", "UN", "ancova", visits[kk], "contrast", nrow(one) - 3, "lm per visit")
    }
  }
  packages <- c("nlme", "emmeans", "pbkrtest", "lme4", "lmerTest", "numDeriv")
  versions <- data.frame(stat = c("r_version", paste0(packages, "_version")), covariance = "", method = "", visit = "",
                         group = "", value = c(R.version.string, sapply(packages, function(x)
                           as.character(packageVersion(x)))), source = "")
  write.csv(rbind(do.call(rbind, out), versions), paste0("mmrm_", name, ".csv"), row.names = FALSE)
}

for (name in c("complete", "dropout", "intermittent", "ties")) reference(name)
