"""The class quiz in the browser: a teacher and five students, each in a browser of their
own, answer, the teacher sees the count and then the histogram, then the step runs and
everyone sees the value; on a phone the question fits the screen."""

from __future__ import annotations

import math
import re

import pytest

from tests.helpers import CONTEXT_ARGS, browser_stack, csp_violations

pytestmark = pytest.mark.browser

expect = browser_stack()  # skips without Playwright; fails under CI=true

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-US",
}


def ready(page) -> None:
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-role=live]")).to_have_class(re.compile("live-dot--live"))


def node_text(page, node: str, role: str = "value"):
    return page.locator(f'#graph-svg [data-node-id="{node}"] [data-role={role}]')


def test_five_students_answer_and_the_teacher_reveals(
    browser, page, page_server, page_api, screenshots
):
    graph, token = page_api.create({"example": "seed"})
    gid = graph["id"]
    # forward up to the sigmoid: x, y, k, b, linear are computed; sigmoid is next
    page_api.call("POST", f"/api/graphs/{gid}/forward", {"steps": 5}, token)
    teacher = page
    teacher.goto(f"{page_server}/g/{gid}#edit={token}")
    ready(teacher)
    expect(teacher.locator("[data-role=position]")).to_have_text("5 / 14")
    truth = 1 / (1 + math.exp(-(0.09 * 3.0 + 0.5)))

    contexts, students, violations = [], [], []
    try:
        for i in range(5):
            args = PHONE if i == 4 else CONTEXT_ARGS
            ctx = browser.new_context(**args)
            violations.append(csp_violations(ctx))
            contexts.append(ctx)
            student = ctx.new_page()
            student.goto(f"{page_server}/g/{gid}")
            ready(student)
            students.append(student)

        # the teacher selects the sigmoid and presses q: every student is asked
        teacher.locator('#graph-svg [data-node-id="sigmoid"]').click()
        teacher.keyboard.press("q")
        card = teacher.locator("[data-role=quiz]")
        expect(card).to_be_visible()
        expect(card.locator("[data-role=quiz-question]")).to_have_text(
            "What will the value of sigmoid be?"
        )
        expect(card.locator("[data-role=quiz-count]")).to_have_text("0 answers")
        for student in students:
            q = student.locator("[data-role=quiz]")
            expect(q.locator("[data-role=quiz-question]")).to_have_text(
                "What will the value of sigmoid be?", timeout=3000
            )
            # nothing of the answer shows before the reveal
            expect(node_text(student, "sigmoid")).to_have_text("\u2014")  # not computed yet
        teacher.screenshot(path=screenshots / "quiz-teacher-open.png")

        # two are right within 1 %, one is close but not within, two are far off
        answers = [0.68, 0.684, 0.7, 0.5, 0.5]
        for i, (student, value) in enumerate(zip(students, answers, strict=True)):
            field = student.locator("[data-role=quiz-answer]")
            expect(field).to_be_focused()  # keyboard first: type and press Enter
            if i == 0:
                field.fill("0.1")  # a first answer, replaced below
                field.press("Enter")
                expect(student.locator("[data-role=quiz-mine]")).to_contain_text("0.1")
                field.fill(str(value))
                student.locator("[data-quiz=submit]").click()
            else:
                student.keyboard.type(str(value))
                if i == 1:
                    student.locator("[data-role=quiz-name]").fill("Li Wei")
                    student.locator("[data-role=quiz-answer]").press("Enter")
                else:
                    student.keyboard.press("Enter")
            expect(student.locator("[data-role=quiz-mine]")).to_contain_text(str(value))
            expect(card.locator("[data-role=quiz-count]")).to_have_text(
                "1 answer" if i == 0 else f"{i + 1} answers", timeout=3000
            )
        # on a phone the question is on screen, whatever shows the drawing
        expect(students[4].locator("[data-role=quiz]")).to_be_in_viewport()
        students[4].screenshot(path=screenshots / "quiz-student-phone-open.png")
        students[0].screenshot(path=screenshots / "quiz-student-open.png")
        # a word is not a number: refused on the page, nothing sent
        students[3].locator("[data-role=quiz-answer]").fill("half")
        students[3].locator("[data-role=quiz-answer]").press("Enter")
        expect(students[3].locator("[data-role=quiz-error]")).to_contain_text("Type a number")
        expect(card.locator("[data-role=quiz-count]")).to_have_text("5 answers")

        # the reveal (q again): the truth, the histogram and the share within 1 %
        teacher.keyboard.press("q")
        expect(card).to_have_attribute("data-status", "revealed")
        expect(card.locator("[data-role=quiz-truth] strong")).to_have_text(f"{truth:.4f}")
        expect(card.locator("[data-role=quiz-share]")).to_have_text(
            "2 of 5 answers (40 %) within 1 %"
        )
        bars = card.locator("[data-role=quiz-hist] .quiz-bar")
        counts = [int(c) for c in bars.evaluate_all("bs => bs.map((b) => b.dataset.count)")]
        assert sum(counts) == 5
        quiz = page_api.call("GET", f"/api/graphs/{gid}/quiz")[1]
        hist = quiz["histogram"]
        expected = (
            ([hist["below"]] if hist["below"] else [])
            + hist["counts"]
            + ([hist["above"]] if hist["above"] else [])
        )
        assert counts == expected
        assert quiz["truth"] == pytest.approx(truth, rel=1e-12) and quiz["within_1pct"] == 2
        expect(card.locator("[data-role=quiz-truth-line]")).to_have_count(1)
        teacher.screenshot(path=screenshots / "quiz-teacher-revealed.png")
        for i, student in enumerate(students):
            q = student.locator("[data-role=quiz]")
            expect(q).to_have_attribute("data-status", "revealed", timeout=3000)
            mine = q.locator("[data-role=quiz-mine]")
            if i < 2:
                expect(mine).to_have_class("quiz-mine is-right")
            else:
                expect(mine).to_have_text(f"Your answer was {answers[i]}.")
        students[4].screenshot(path=screenshots / "quiz-student-phone-revealed.png")
        students[1].screenshot(path=screenshots / "quiz-student-revealed.png")
        # answering is closed now
        status, _ = page_api.call(
            "POST",
            f"/api/graphs/{gid}/quiz/answers",
            {"quiz_id": quiz["quiz_id"], "answer": truth, "client": "latecomer01"},
        )
        assert status == 409

        # then the step runs, and all five see the value
        teacher.keyboard.press("ArrowRight")
        expect(teacher.locator("[data-role=position]")).to_have_text("6 / 14")
        shown = f"{truth:.4f}"
        expect(node_text(teacher, "sigmoid")).to_contain_text(shown[:5])
        for student in students:
            expect(node_text(student, "sigmoid")).to_contain_text(shown[:5], timeout=3000)
            # the card shrinks to its answer line: the drawing shows the number now
            expect(student.locator("[data-role=quiz]")).to_have_class(
                re.compile("quiz-card--compact")
            )
        expect(card).to_have_class(re.compile("quiz-card--compact"))
        expect(card.locator("[data-role=quiz-truth]")).to_be_visible()
        teacher.screenshot(path=screenshots / "quiz-teacher-after-step.png")
        # the third q puts the card away, for everyone
        teacher.keyboard.press("q")
        expect(card).to_be_hidden()
        for student in students:
            expect(student.locator("[data-role=quiz]")).to_be_hidden(timeout=3000)
    finally:
        for ctx in contexts:
            ctx.close()
    assert not [v for found in violations for v in found]


def test_a_gradient_question_and_a_late_student(browser, page, page_server, page_api):
    graph, token = page_api.create({"example": "seed"})
    gid = graph["id"]
    page_api.call("POST", f"/api/graphs/{gid}/forward", {"all": True}, token)
    teacher = page
    teacher.goto(f"{page_server}/g/{gid}#edit={token}")
    ready(teacher)
    teacher.locator('#graph-svg [data-node-id="k"]').click()
    teacher.keyboard.press("q")
    card = teacher.locator("[data-role=quiz]")
    expect(card.locator("[data-role=quiz-question]")).to_have_text(
        "What will the gradient of k be?"
    )
    # a student who opens the view link now is asked too (the stream sends the question)
    ctx = browser.new_context(**CONTEXT_ARGS)
    try:
        student = ctx.new_page()
        student.goto(f"{page_server}/g/{gid}")
        ready(student)
        expect(student.locator("[data-role=quiz-question]")).to_have_text(
            "What will the gradient of k be?"
        )
        # typed only once the field has the focus: a "-" on the page zooms out
        expect(student.locator("[data-role=quiz-answer]")).to_be_focused()
        student.keyboard.type("-0.0344")
        student.keyboard.press("Enter")
        expect(card.locator("[data-role=quiz-count]")).to_have_text("1 answer")
        card.locator("[data-quiz=reveal]").click()  # the button does what q does
        expect(card.locator("[data-role=quiz-share]")).to_have_text(
            "1 of 1 answers (100 %) within 1 %"
        )
        expect(student.locator("[data-role=quiz-truth] strong")).to_have_text("\u22120.03437")
        # a student puts the card away for themself only
        student.locator("[data-quiz=close]").click()
        expect(student.locator("[data-role=quiz]")).to_be_hidden()
        expect(card).to_be_visible()
    finally:
        ctx.close()


def test_a_lesson_step_asks_the_class(browser, page, page_server, page_api, screenshots):
    """Day 3's quiz step: the lesson opens the question on its graph; a student on the view
    link answers; the teacher sees the count, reveals, steps, and the student sees it."""
    status, lesson = page_api.call("GET", "/api/lessons/day3")
    assert status == 200
    k = next(
        i for i, s in enumerate(lesson["steps"], 1) if (s.get("quiz") or {}).get("node") == "k"
    )
    teacher = page
    teacher.goto(f"{page_server}/lessons/day3#step-{k}")
    root = teacher.locator("#lesson")
    expect(root).to_have_attribute("data-step", str(k))
    expect(root).to_have_attribute("data-step-state", "ready", timeout=30_000)
    card = teacher.locator("[data-role=quiz]")
    expect(card.locator("[data-role=quiz-question]")).to_have_text(
        "What will the gradient of k be?"
    )
    # the card follows the page's language, there and back
    teacher.keyboard.press("l")
    expect(card.locator("[data-role=quiz-question]")).to_have_text("k 的梯度会是多少？")
    teacher.keyboard.press("l")
    expect(card.locator("[data-role=quiz-question]")).to_have_text(
        "What will the gradient of k be?"
    )
    # the card shows the lesson's one link (its room), which students open once
    link = card.locator(".quiz-link a")
    url = link.get_attribute("href")
    room = teacher.evaluate("() => window.stepgrad.room().room.id")
    assert url == f"{page_server}/r/{room}"
    gid = teacher.evaluate("() => window.stepgrad.state.rec.session.id")
    truth = page_api.call("GET", f"/api/graphs/{gid}/quiz")[1]
    assert truth["status"] == "open" and truth["node"] == "k"
    ctx = browser.new_context(**CONTEXT_ARGS)
    try:
        student = ctx.new_page()
        student.goto(url)
        expect(student.locator("#lesson")).to_have_attribute("data-step", str(k))
        expect(student.locator("[data-role=room-badge]")).to_have_attribute("data-live", "live")
        expect(student.locator("[data-role=quiz-question]")).to_have_text(
            "What will the gradient of k be?"
        )
        # the student also mirrors what the lesson shows: the part of the graph in view
        # typed only once the field has the focus: a "-" on the page zooms out
        expect(student.locator("[data-role=quiz-answer]")).to_be_focused()
        student.keyboard.type("-0.0344")
        student.keyboard.press("Enter")
        expect(card.locator("[data-role=quiz-count]")).to_have_text("1 answer", timeout=3000)
        teacher.screenshot(path=screenshots / "quiz-lesson-teacher-open.png")
        teacher.keyboard.press("q")
        expect(card).to_have_attribute("data-status", "revealed")
        expect(card.locator("[data-role=quiz-truth] strong")).to_have_text("\u22120.03437")
        expect(card.locator("[data-role=quiz-share]")).to_have_text(
            "1 of 1 answers (100 %) within 1 %"
        )
        teacher.screenshot(path=screenshots / "quiz-lesson-teacher-revealed.png")
        # the keys still step the lesson's graph: backward reaches k, and the student sees it
        teacher.keyboard.press("ArrowRight")
        expect(student.locator('#graph-svg [data-node-id="k"] [data-role=grad]')).to_have_text(
            "\u22120.03437", timeout=3000
        )
        expect(card).to_have_class(re.compile("quiz-card--compact"))
        # and the lesson's keys move on: the next step has no question
        teacher.keyboard.press("PageDown")
        expect(root).to_have_attribute("data-step", str(k + 1))
        expect(card).to_be_hidden()
    finally:
        ctx.close()


def test_the_quiz_in_chinese_while_presenting(browser, page, page_server, page_api, screenshots):
    graph, token = page_api.create({"example": "seed"})
    gid = graph["id"]
    page_api.call("POST", f"/api/graphs/{gid}/forward", {"all": True}, token)
    teacher = page
    teacher.add_init_script("localStorage.setItem('stepgrad:lang', 'zh')")
    teacher.goto(f"{page_server}/g/{gid}#edit={token}")
    ready(teacher)
    teacher.keyboard.press("p")
    teacher.locator('#graph-svg [data-node-id="b"]').click()
    teacher.keyboard.press("q")
    card = teacher.locator("[data-role=quiz]")
    expect(card.locator("[data-role=quiz-question]")).to_have_text("b 的梯度会是多少？")
    ctx = browser.new_context(**PHONE)
    ctx.add_init_script("localStorage.setItem('stepgrad:lang', 'zh')")
    try:
        student = ctx.new_page()
        student.goto(f"{page_server}/g/{gid}")
        expect(student.locator("[data-role=quiz-question]")).to_have_text("b 的梯度会是多少？")
        expect(student.locator("[data-quiz=submit]")).to_have_text("提交")
        student.locator("[data-role=quiz-answer]").fill("-0.0115")
        student.locator("[data-role=quiz-answer]").press("Enter")
        expect(card.locator("[data-role=quiz-count]")).to_have_text("1 个回答")
        student.screenshot(path=screenshots / "quiz-student-phone-zh.png")
        teacher.screenshot(path=screenshots / "quiz-teacher-presenting-zh-open.png")
        teacher.keyboard.press("q")
        expect(card.locator("[data-role=quiz-share]")).to_have_text(
            "1 个回答中有 1 个（100 %）在 1 % 以内"
        )
        teacher.screenshot(path=screenshots / "quiz-teacher-presenting-zh-revealed.png")
        expect(student.locator("[data-role=quiz-mine]")).to_contain_text("答对了")
    finally:
        ctx.close()
