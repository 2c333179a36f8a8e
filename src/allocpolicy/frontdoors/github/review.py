"""Post one review per run and reconcile the bot's earlier comments.

Reconciliation only looks at comments whose author is the bot's login *and* that
carry an allocpolicy marker. For each comment the plan wants:

* an open bot comment with the same fingerprints on the same lines → nothing
  (its body is updated in place if the wording changed);
* one with the same fingerprints elsewhere (moved, or outdated by a push) → a
  new comment is posted and the old one is edited to a "resolved" form;
* no bot comment yet → posted (at most ``max_comments`` per run; the rest go to
  the summary comment).

Open bot comments whose findings are gone are edited to the "resolved" form —
collapsed, marked ✅ Resolved, its suggestion disarmed — and their review thread is
resolved through GraphQL (:mod:`.threads`; REST cannot), so "require conversation
resolution" does not block the merge. A finding that comes back gets a fresh comment:
resolved comments are never edited or reopened. The bot's extra copies are deleted,
or minimised as duplicates where a human replied or deletion is refused. Without
GraphQL (the token lacks ``contents: write``) the body edit stands alone and the job
summary says so once. Threads with human replies always survive.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from allocpolicy._record import field, record
from allocpolicy.model import Finding, Severity

from . import markers, render
from .client import (
    ApiError,
    GitHubClient,
    IssueComment,
    PermissionDenied,
    RateLimitGaveUp,
    Review,
    ReviewComment,
    Unprocessable,
)
from .diffmap import DiffMap
from .plan import OVERFLOW, SUMMARY, Plan, PlannedComment, RuleInfo
from .threads import PERMISSION_NOTE, Threads

# create-review requests spent finding the comments GitHub rejects without saying which
MAX_BISECT_PROBES = 12


@record
class ReviewOptions:
    max_comments: int = 30
    review_event: str = "COMMENT"  # or REQUEST_CHANGES; never APPROVE
    # None: the token's login is unknown (GET /user refused it), see Reviewer._mine
    bot_login: str | None = "github-actions[bot]"
    fail_on: Severity | None = Severity.ERROR


@record
class ReviewOutcome:
    posted: list[PlannedComment] = field(default_factory=list)
    unchanged: int = 0
    updated: int = 0
    resolved: int = 0
    deleted: int = 0  # the bot's extra copies of one comment (concurrent runs)
    retired_reviews: int = 0  # a concurrent run's review, left without comments
    threads_resolved: int = 0  # review threads resolved through GraphQL
    minimized: int = 0  # duplicate comments hidden through GraphQL
    # for the job summary only (the PR's summary comment would change with it)
    job_notes: list[str] = field(default_factory=list)
    review_url: str | None = None
    fallback: str | None = None  # why the bot fell back to annotations
    notes: list[str] = field(default_factory=list)


def validate_anchor(c: PlannedComment, diff: DiffMap) -> str | None:
    """Why GitHub would reject this comment's anchor (None if it would not)."""
    fd = diff.get(c.path)
    if fd is None:
        return "path is not in the pull request"
    if len(c.body) > render.MAX_BODY:
        return "body too long"
    if c.file_level:
        return None
    assert c.line is not None
    if not fd.in_hunk(c.line):
        return "line is not part of the diff"
    if c.start_line is not None:
        if c.start_line >= c.line:
            return "start line must precede the line"
        if not fd.same_hunk(c.start_line, c.line):
            return "start line is not in the same hunk"
    return None


class Reviewer:
    def __init__(
        self,
        api: GitHubClient,
        head_sha: str,
        plan: Plan,
        rules: dict[str, RuleInfo],
        diff: DiffMap,
        options: ReviewOptions,
        line_of: Callable[[str, int], str | None],
        run_url: str | None = None,
        refresh_diff: Callable[[], DiffMap] | None = None,
        log: Callable[[str], None] = lambda m: None,
    ):
        self.api = api
        self.head_sha = head_sha
        self.plan = plan
        self.rules = rules
        self.diff = diff
        self.opt = options
        self.line_of = line_of
        self.run_url = run_url
        self.refresh_diff = refresh_diff
        self.log = log
        self.out = ReviewOutcome()
        self.attempt = secrets.token_hex(8)
        self.overflow: list[Finding] = []
        self.dropped: list[Finding] = []
        self.blocked_by_pending = False
        self.kept_line_comments = 0
        self.replied: set[int] = set()  # comments that start a thread with replies
        self.comments: list[ReviewComment] = []  # as listed at the start of the run
        self.deleted: set[int] = set()  # the bot's extra copies this run deleted
        self.created: set[int] = set()  # reviews this run posted
        self.threads = Threads(api, log)

    # -- helpers -------------------------------------------------------------------
    def _mine(self, user: str) -> bool:
        if self.opt.bot_login is None:
            # GITHUB_TOKEN and App installation tokens cannot read GET /user and nothing
            # else names their slug before they write, yet both always post as
            # "<slug>[bot]": any [bot] login counts, and every caller also requires our
            # marker, which people and other bots do not write.
            return user.endswith("[bot]")
        return user == self.opt.bot_login

    def _blocking(self) -> bool:
        fo = self.opt.fail_on
        return fo is not None and any(f.severity.at_least(fo) for f in self.plan.in_scope)

    # -- the run -------------------------------------------------------------------
    def run(self) -> ReviewOutcome:
        try:
            self._run()
        except (PermissionDenied, RateLimitGaveUp) as exc:
            self.out.fallback = (
                f"the token cannot write to this pull request ({exc.status}: {exc.message})"
                if isinstance(exc, PermissionDenied)
                else f"GitHub rate limit did not clear in time ({exc.message})"
            )
        except ApiError as exc:
            self.out.fallback = f"GitHub API error ({exc})"
        if self.threads.refused is not None:
            self.out.job_notes.append(PERMISSION_NOTE.format(why=self.threads.refused))
        return self.out

    def _run(self) -> None:
        self._handle_pending()
        open_by_keys = self._open_comments_by_keys()
        to_post, kept_keys = self._keep_matching(open_by_keys)
        to_resolve, copies = self._stale_comments(open_by_keys, to_post, kept_keys)
        line_new, file_new = self._new_comments_within_budget(to_post, kept_keys)
        if line_new or self._summary_only_block_needed():
            self._post_review(line_new)
        for p in file_new:
            self._post_file_comment(p)
        self._resolve(to_resolve)
        self._delete(copies)
        self._retire_reviews()
        self._sync_summary()
        self._dismiss_if_clean()

    def _open_comments_by_keys(self) -> dict[frozenset[str], list[ReviewComment]]:
        """The bot's open inline and file comments, by the finding keys their markers carry."""
        open_by_keys: dict[frozenset[str], list[ReviewComment]] = {}
        self.comments = self.api.list_review_comments()
        for c in self.comments:
            if c.in_reply_to_id is not None:
                self.replied.add(c.in_reply_to_id)
            if not self._mine(c.user) or c.in_reply_to_id is not None:
                continue
            m = markers.parse(c.body)
            if m is None or m.kind not in ("inline", "file") or m.state != "open" or not m.fps:
                continue
            open_by_keys.setdefault(frozenset(m.fps), []).append(c)
        return open_by_keys

    def _keep_matching(
        self, open_by_keys: dict[frozenset[str], list[ReviewComment]]
    ) -> tuple[list[PlannedComment], set[str]]:
        """Planned comments already open at the same anchor are kept (edited if the text
        changed); returns the ones still to post and the keys the kept ones cover.
        Matched comments are taken out of ``open_by_keys``."""
        to_post: list[PlannedComment] = []
        kept_keys: set[str] = set()
        for pc in self.plan.comments:
            olds = open_by_keys.get(frozenset(pc.keys), [])
            match = next((o for o in olds if self._same_anchor(o, pc)), None)
            if match is None:
                to_post.append(pc)
                continue
            olds.remove(match)
            kept_keys.update(pc.keys)
            self.kept_line_comments += 0 if pc.file_level else 1
            if match.body != pc.body:
                self.api.edit_review_comment(match.id, pc.body)
                self.out.updated += 1
            else:
                self.out.unchanged += 1
        return to_post, kept_keys

    def _stale_comments(
        self,
        open_by_keys: dict[frozenset[str], list[ReviewComment]],
        to_post: list[PlannedComment],
        kept_keys: set[str],
    ) -> tuple[list[tuple[ReviewComment, str]], list[ReviewComment]]:
        """Unmatched open comments to resolve, with why, and extra copies to delete; one
        whose findings are still reported where it stands is left open (and its keys join
        ``kept_keys``). A comment whose findings an open one already covers is a copy
        (two runs on one head raced): deleted, or resolved when a human replied to it."""
        current_keys = set(self.plan.disposition)
        to_resolve: list[tuple[ReviewComment, str]] = []
        copies: list[ReviewComment] = []
        for keys, olds in open_by_keys.items():
            for o in olds:
                if keys & current_keys and keys <= kept_keys:
                    if o.id in self.replied:
                        to_resolve.append(
                            (o, "a copy from a concurrent run; the older comment stays open.")
                        )
                    else:
                        copies.append(o)
                elif not keys & current_keys:
                    to_resolve.append(
                        (o, f"no longer reported by allocpolicy at `{self.head_sha[:12]}`.")
                    )
                elif (o.line is None and o.subject_type != "file") or any(
                    keys & set(p.keys) for p in to_post
                ):
                    to_resolve.append(
                        (o, "the finding moved; see the newer comment or the summary comment.")
                    )
                else:
                    kept_keys.update(keys)  # still valid where it is
                    self.kept_line_comments += 0 if o.subject_type == "file" else 1
        return to_resolve, copies

    def _delete(self, copies: list[ReviewComment]) -> None:
        for o in copies:
            try:
                self.api.delete_review_comment(o.id)
                self.out.deleted += 1
                self.deleted.add(o.id)
                continue
            except PermissionDenied as exc:
                self.log(f"deleting duplicate comment {o.id} refused ({exc.status}: {exc.message})")
            # not deletable: hidden as a duplicate, and marked resolved so later runs skip it
            self._resolve([(o, "a copy from a concurrent run; the older comment stays open.")])
            if self.threads.minimize_review_comment(o.id):
                self.out.minimized += 1

    def _retire_reviews(self) -> None:
        """A concurrent run's review outlives its deleted copies: a review of ours left
        without comments still says "found N findings". It is retired — rewritten to point
        at the review that stays (its marker says duplicate, so later runs leave it alone),
        minimised as a duplicate, and dismissed if it requested changes — when it is
        redundant: a comment review beside one of ours on the same commit that still has
        comments, or a blocking review beside an older blocking one. A lone blocking
        review without comments (a summary-only block) is what carries the event: kept."""
        live = {c.review_id for c in self.comments if c.id not in self.deleted}
        reviews = [
            r
            for r in self.api.list_reviews()
            if self._mine(r.user)
            and r.id not in self.created
            and (m := markers.parse(r.body)) is not None
            and m.kind == "review"
            and m.state == "open"
        ]
        for r in reviews:
            if r.id in live:
                continue
            kept = next((k for k in reviews if k is not r and self._twin(k, r, live)), None)
            if kept is None:
                continue
            if r.state == "CHANGES_REQUESTED":
                self.api.dismiss_review(
                    r.id, "allocpolicy: duplicate of a concurrent run's review."
                )
            where = f" ({kept.html_url})" if kept.html_url else ""
            body = (
                markers.Marker(kind="review", state="duplicate").render()
                + f"\nDuplicate of the allocpolicy review{where}, left by a concurrent run."
            )
            self.api.update_review(r.id, body)
            self.out.retired_reviews += 1
            if self.threads.minimize_review(r.node_id):
                self.out.minimized += 1

    @staticmethod
    def _twin(kept: Review, extra: Review, live: set[int | None]) -> bool:
        """``kept`` stands for what ``extra`` (a review without comments) said."""
        if extra.state == "COMMENTED":
            return kept.commit_id == extra.commit_id and kept.id in live
        return (
            extra.state == "CHANGES_REQUESTED"
            and kept.state == "CHANGES_REQUESTED"
            and kept.id < extra.id
        )

    def _new_comments_within_budget(
        self, to_post: list[PlannedComment], kept_keys: set[str]
    ) -> tuple[list[PlannedComment], list[PlannedComment]]:
        """New line comments up to max-comments and with anchors GitHub accepts, and new
        file comments. max-comments caps the bot's open line comments (kept ones count), so
        an identical re-run does not trickle the overflow in; file-level ones are capped in
        the plan."""
        plan = self.plan
        line_new = [p for p in to_post if not p.file_level and not (set(p.keys) <= kept_keys)]
        file_new = [p for p in to_post if p.file_level and not (set(p.keys) <= kept_keys)]
        line_new.sort(key=lambda p: (-p.severity.rank, p.path, p.line or 0))
        budget = max(0, self.opt.max_comments - self.kept_line_comments)
        overflow = line_new[budget:]
        line_new = line_new[:budget]
        for p in overflow:
            for f in p.findings:
                plan.disposition[plan.key(f)] = OVERFLOW
        self.overflow = [f for p in overflow for f in p.findings]

        invalid = [p for p in line_new if validate_anchor(p, self.diff)]
        for p in invalid:
            self.log(f"not posting {p.path}:{p.line}: {validate_anchor(p, self.diff)}")
            self._to_summary(p)
        return [p for p in line_new if p not in invalid], file_new

    def _resolve(self, to_resolve: list[tuple[ReviewComment, str]]) -> None:
        """Edit stale comments to resolved (collapsed, their suggestion no longer appliable)
        and resolve their threads; a copy a human replied to is also minimised."""
        for o, reason in to_resolve:
            m = markers.parse(o.body)
            self.api.edit_review_comment(
                o.id,
                render.resolved_body(o.body, m.fps if m else (), m.kind if m else "inline", reason),
            )
            self.out.resolved += 1
            if self.threads.resolve(o.id):
                self.out.threads_resolved += 1
            copy = o.id in self.replied and reason.startswith("a copy")
            if copy and self.threads.minimize_review_comment(o.id):
                self.out.minimized += 1

    def _same_anchor(self, o: ReviewComment, pc: PlannedComment) -> bool:
        if o.path != pc.path:
            return False
        if pc.file_level:
            return o.subject_type == "file"
        return (
            o.subject_type != "file"
            and o.line == pc.line
            and (o.start_line or None) == pc.start_line
        )

    def _to_summary(self, p: PlannedComment) -> None:
        for f in p.findings:
            self.plan.disposition[self.plan.key(f)] = SUMMARY
        self.dropped.extend(p.findings)

    # -- pending reviews -----------------------------------------------------------
    def _handle_pending(self) -> None:
        """A pending review by the bot blocks a new one (422 'one pending review').

        Ours (marker in the body; left by a crashed or interrupted run) is
        submitted so its comments become normal comments that reconcile sees.
        Someone else's draft under the same login is left alone, and this run
        posts no review (everything goes to the summary comment).
        """
        self.blocked_by_pending = False
        for r in self.api.list_reviews():
            if r.state != "PENDING" or not self._mine(r.user):
                continue
            m = markers.parse(r.body)
            if m is not None and m.kind == "review":
                self.log(f"submitting leftover pending review {r.id}")
                self.api.submit_review(r.id, "COMMENT", r.body)
                self.out.notes.append("A pending review left by an earlier run was submitted.")
            else:
                self.blocked_by_pending = True
                self.out.notes.append(
                    "A pending (draft) review by the same account blocks new reviews; findings are in this comment."
                )

    # -- the review ----------------------------------------------------------------
    def _find_review(self) -> Review | None:
        for r in self.api.list_reviews():
            m = markers.parse(r.body)
            if (
                self._mine(r.user)
                and m is not None
                and m.kind == "review"
                and m.attempt == self.attempt
            ):
                if r.state == "PENDING":
                    self.api.submit_review(r.id, self._event(), r.body)
                return r
        return None

    def _event(self) -> str:
        if self.opt.review_event == "REQUEST_CHANGES" and self._blocking():
            return "REQUEST_CHANGES"
        return "COMMENT"

    def _summary_only_block_needed(self) -> bool:
        """REQUEST_CHANGES must block even when every blocking finding sits in the summary
        (nothing to anchor inline): a review without comments carries the event. One
        standing blocking review of ours is enough; a re-run does not stack another."""
        if self._event() != "REQUEST_CHANGES" or self.blocked_by_pending:
            return False
        return not self._own_blocking_reviews()

    def _own_blocking_reviews(self) -> list[Review]:
        """The bot's own reviews that currently request changes."""
        return [
            r
            for r in self.api.list_reviews()
            if self._mine(r.user)
            and r.state == "CHANGES_REQUESTED"
            and (m := markers.parse(r.body)) is not None
            and m.kind == "review"
        ]

    def _post_review(self, comments: list[PlannedComment]) -> None:
        if self.blocked_by_pending:
            for p in comments:
                self._to_summary(p)
            return
        try:
            self._create(comments)
            return
        except Unprocessable as exc:
            self.log(f"review rejected (422: {exc.message})")
            message = exc.message
        kept = self._drop_offending(comments, message)
        if kept and len(kept) < len(comments):
            try:
                self._create(kept)
                return
            except Unprocessable as exc:
                self.log(f"review rejected again (422: {exc.message})")
        if kept:
            self._bisect(kept)

    def _create(self, comments: list[PlannedComment]) -> None:
        """One review with these comments (a new attempt id each time, for verify)."""
        self.attempt = secrets.token_hex(8)
        body = render.review_body(comments, len(self.overflow), self.attempt, None)
        r = self.api.create_review(
            self.head_sha,
            body,
            self._event(),
            [p.review_dict() for p in comments],
            verify=self._find_review,
        )
        self.out.review_url = self.out.review_url or r.html_url or None
        self.out.posted.extend(comments)
        self.created.add(r.id)

    def _bisect(self, comments: list[PlannedComment]) -> None:
        """GitHub rejects a review as a whole and does not say which comment: post halves,
        split a rejected half again, and send a lone rejected comment to the summary. The
        probes are bounded (a few culprits cost O(k log n) requests); what is left when
        they run out goes to the summary too."""
        queue = [comments[: len(comments) // 2], comments[len(comments) // 2 :]]
        probes = 0
        culprits: list[PlannedComment] = []
        while queue:
            batch = queue.pop(0)
            if not batch:
                continue
            if probes >= MAX_BISECT_PROBES:
                culprits.extend(batch)
                continue
            probes += 1
            try:
                self._create(batch)
            except Unprocessable as exc:
                self.log(f"review part rejected (422: {exc.message})")
                if len(batch) == 1:
                    culprits.extend(batch)
                else:
                    queue[:0] = [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
        for p in culprits:
            self.log(f"not posting {p.path}:{p.line}: GitHub rejected it")
            self._to_summary(p)
        if culprits:
            self.out.notes.append(
                f"GitHub rejected {len(culprits)} inline comment(s) without saying why; those findings are listed here."
            )

    def _drop_offending(self, comments: list[PlannedComment], message: str) -> list[PlannedComment]:
        """After a 422: re-validate against a fresh diff; failing that, keep only anchors
        from GitHub's own patches; failing that, drop multi-line ranges if GitHub named
        the start line. Returns what is still worth posting (all of it when nothing could
        be attributed: the caller bisects)."""
        fresh = self.refresh_diff() if self.refresh_diff else self.diff
        keep = [p for p in comments if validate_anchor(p, fresh) is None]
        if len(keep) == len(comments):
            keep = [p for p in comments if fresh.sources.get(p.path, "api") == "api"]
        if len(keep) == len(comments) and "start line" in message.lower():
            keep = [p for p in comments if p.start_line is None]
        for p in comments:
            if p not in keep:
                self._to_summary(p)
        if len(keep) < len(comments):
            self.out.notes.append(
                f"GitHub rejected {len(comments) - len(keep)} inline comment position(s); those findings are listed here."
            )
        self.diff = fresh
        return keep

    def _post_file_comment(self, p: PlannedComment) -> None:
        def verify() -> ReviewComment | None:
            for c in self.api.list_review_comments():
                m = markers.parse(c.body)
                if (
                    self._mine(c.user)
                    and m
                    and c.path == p.path
                    and set(m.fps) == set(p.keys)
                    and m.state == "open"
                ):
                    return c
            return None

        try:
            self.api.create_file_comment(self.head_sha, p.path, p.body, verify)
            self.out.posted.append(p)
        except Unprocessable as exc:  # e.g. GHES without file comments
            self.log(f"file comment on {p.path} rejected: {exc.message}")
            self._to_summary(p)

    # -- summary comment -----------------------------------------------------------
    def _sync_summary(self) -> None:
        listed = list(self.plan.summary) + list(self.overflow) + list(self.dropped)
        seen: set[int] = set()
        unique: list[Finding] = []
        for f in listed:  # each finding once, in first-listed order
            if id(f) not in seen:
                seen.add(id(f))
                unique.append(f)
        listed = unique
        listed.sort(key=lambda f: (-f.severity.rank, f.sort_key()))
        existing = [c for c in self.api.list_issue_comments() if self._open_summary(c)]
        for extra in existing[1:]:  # concurrent runs each posted one: keep the oldest
            self._retire_summary(extra, existing[0])
        if not listed and not existing and not self.out.notes:
            return
        body = render.summary_body(
            self.plan, self.rules, listed, self.head_sha, self.run_url, self.line_of, self.out.notes
        )
        if existing:
            first = existing[0]
            if first.body != body:
                self.api.edit_issue_comment(first.id, body)
            return

        def verify() -> IssueComment | None:
            return next((c for c in self.api.list_issue_comments() if self._open_summary(c)), None)

        self.api.create_issue_comment(body, verify)

    def _open_summary(self, c: IssueComment) -> bool:
        """The bot's own summary comment, not one retired as a duplicate."""
        m = markers.parse(c.body) if self._mine(c.user) else None
        return m is not None and m.kind == "summary" and m.state == "open"

    def _retire_summary(self, extra: IssueComment, kept: IssueComment) -> None:
        """A duplicate summary comment is rewritten to point at the kept one (its marker
        says duplicate, so later runs leave it alone) and minimised as a duplicate."""
        where = f" ({kept.html_url})" if kept.html_url else ""
        body = (
            markers.Marker(kind="summary", state="duplicate").render()
            + f"\nDuplicate of the allocpolicy summary comment{where}, left by a concurrent run."
        )
        self.api.edit_issue_comment(extra.id, body)
        if self.threads.minimize_issue_comment(extra.id):
            self.out.minimized += 1

    def _dismiss_if_clean(self) -> None:
        if self.opt.review_event != "REQUEST_CHANGES" or self._blocking():
            return
        for r in self._own_blocking_reviews():
            self.api.dismiss_review(r.id, "allocpolicy: no blocking findings remain.")
