# Reference values for tests/test_gee.py: GEE logistic regression, y ~ arm + visit (visit a factor, first visit the
# reference), exchangeable working correlation, robust (sandwich) SE, by geepack::geeglm, tight convergence.
# Run from tests/reference (make reference): each data/gee_<name>.csv (written by tests/r/make_data_gee.py) gives
# gee_<name>.csv (name, value): every coefficient and its robust SE, alpha, scale, the arm's Wald P and OR CI.
suppressMessages(library(geepack))
for (path in Sys.glob("data/gee_*.csv")) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  d$id <- match(d$subject, unique(d$subject))
  stopifnot(!is.unsorted(d$id))  # each subject's rows together, as geepack needs
  d$visit <- factor(d$visit, levels = sort(unique(d$visit)))
  fit <- geeglm(y ~ arm + visit, id = id, data = d, family = binomial, corstr = "exchangeable",
                control = geese.control(epsilon = 1e-12, maxit = 200))
  stopifnot(fit$geese$error == 0)
  co <- summary(fit)$coefficients
  terms <- c("intercept", "arm", paste0("visit_", levels(d$visit)[-1]))
  stopifnot(rownames(co) == c("(Intercept)", "arm", paste0("visit", levels(d$visit)[-1])))
  z <- qnorm(0.975)
  arm <- co["arm", ]
  values <- c(setNames(co$Estimate, paste0("beta_", terms)), setNames(co$Std.err, paste0("se_", terms)),
              alpha = unname(fit$geese$alpha), scale = unname(fit$geese$gamma), p_arm = arm[["Pr(>|W|)"]],
              or_arm = exp(arm[["Estimate"]]), lcl_arm = exp(arm[["Estimate"]] - z * arm[["Std.err"]]),
              ucl_arm = exp(arm[["Estimate"]] + z * arm[["Std.err"]]), n_obs = nrow(d),
              n_subjects = length(unique(d$id)), n_pairs = sum(choose(table(d$id), 2)))
  out <- data.frame(name = names(values), value = trimws(formatC(unname(values), digits = 17, format = "g")))
  out <- rbind(out, data.frame(name = c("r_version", "geepack_version"),
                               value = c(R.version.string, as.character(packageVersion("geepack")))))
  write.csv(out, sub("^data/", "", path), row.names = FALSE)
}
