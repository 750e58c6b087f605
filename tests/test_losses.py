import pytest
import torch
import torch.nn.functional as F

from conftest import REPO
from train.lib.config import ConfigError, load_config
from train.lib.losses import ClassQueue, logit_kd_loss, part_contrastive_loss


def _emb(*shape):
    return F.normalize(torch.randn(*shape), dim=-1)


def test_contrastive_loss_prefers_aligned_students():
    torch.manual_seed(0)
    k, p, d = 3, 6, 16
    bank = _emb(12, p, d)
    bank_labels = torch.arange(12) % k
    labels = torch.tensor([0, 1, 2])
    w = torch.full((k, p), 1 / p)
    aligned = F.normalize(torch.stack([bank[bank_labels == c].mean(0) for c in range(k)]), dim=-1)
    wrong = aligned[[1, 2, 0]]
    good = part_contrastive_loss(aligned, labels, bank, bank_labels, w, tau=0.1)
    bad = part_contrastive_loss(wrong, labels, bank, bank_labels, w, tau=0.1)
    assert good < bad


def test_contrastive_loss_matches_the_formula():
    torch.manual_seed(1)
    s, bank = _emb(2, 2, 4), _emb(5, 2, 4)
    labels, bank_labels = torch.tensor([0, 1]), torch.tensor([0, 0, 1, 1, 1])
    w = torch.tensor([[0.7, 0.3], [0.2, 0.8]])
    tau = 0.5
    total = 0.0
    for i in range(2):
        li = 0.0
        for p in range(2):
            logits = torch.stack([s[i, p] @ bank[k, p] / tau for k in range(5)])
            logp = logits.log_softmax(0)
            pos = [j for j in range(5) if bank_labels[j] == labels[i]]
            li += w[labels[i], p] * -(sum(logp[j] for j in pos) / len(pos))
        total += li
    got = part_contrastive_loss(s, labels, bank, bank_labels, w, tau=tau)
    assert got.item() == pytest.approx(total.item() / 2, rel=1e-5)


def test_part_weights_select_parts():
    torch.manual_seed(2)
    s, bank = _emb(1, 2, 8), _emb(4, 2, 8)
    labels, bank_labels = torch.tensor([0]), torch.tensor([0, 1, 1, 1])
    only_p0 = part_contrastive_loss(s, labels, bank, bank_labels, torch.tensor([[1.0, 0.0], [0.5, 0.5]]))
    s2 = s.clone()
    s2[0, 1] = -s2[0, 1]  # changing part 1 must not matter when its weight is 0
    assert part_contrastive_loss(s2, labels, bank, bank_labels, torch.tensor([[1.0, 0.0], [0.5, 0.5]])) == only_p0


def test_samples_without_positives_and_single_sample_mask():
    s, bank = _emb(2, 1, 4), _emb(3, 1, 4)
    labels, bank_labels = torch.tensor([0, 5]), torch.tensor([0, 1, 2])
    w = torch.ones(6, 1)
    both = part_contrastive_loss(s, labels, bank, bank_labels, w)
    only_first = part_contrastive_loss(s[:1], labels[:1], bank, bank_labels, w)
    assert both.item() == pytest.approx(only_first.item())
    mask = torch.tensor([[False, True, False], [False, False, False]])
    single = part_contrastive_loss(s, labels, bank, bank_labels, w, positive_mask=mask)
    manual = -(s[0, 0] @ bank[:, 0].t() / 0.1).log_softmax(0)[1]
    assert single.item() == pytest.approx(manual.item(), rel=1e-5)
    assert part_contrastive_loss(s, labels, bank[:0], bank_labels[:0], w).item() == 0.0


def test_gradients_flow_to_the_student_only():
    s = _emb(3, 2, 4).requires_grad_()
    bank = _emb(6, 2, 4).requires_grad_()
    loss = part_contrastive_loss(s, torch.tensor([0, 1, 0]), bank.detach(), torch.arange(6) % 2, torch.ones(2, 2) / 2)
    loss.backward()
    assert s.grad is not None and s.grad.abs().sum() > 0 and bank.grad is None


def test_class_queue_is_fifo_per_class():
    q = ClassQueue(num_classes=2, size=2, num_parts=1, dim=1)
    q.push(torch.tensor([[[1.0]], [[2.0]], [[3.0]], [[9.0]]]), torch.tensor([0, 0, 0, 1]))
    emb, lab = q.contents()
    got = sorted(zip(lab.tolist(), emb[:, 0, 0].tolist()))
    assert got == [(0, 2.0), (0, 3.0), (1, 9.0)]


def test_logit_kd_is_zero_for_identical_logits():
    x = torch.randn(4, 5)
    assert logit_kd_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert logit_kd_loss(x, x.flip(1)).item() > 0


def test_config_overrides_and_errors(tmp_path):
    cfg = load_config(None, ["train.alpha=0.25", "data.window=48", "seeds=[3]", "train.lr=1e-3", "train.tau=1"])
    assert cfg.train.alpha == 0.25 and cfg.data.window == 48 and cfg.seeds == [3]
    assert cfg.train.lr == 0.001 and isinstance(cfg.train.tau, float), "YAML's '1e-3' string and an int are numbers"
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(tmp_path / "list.yaml")


@pytest.mark.parametrize("override, message", [
    ("train.epochs_student=abc", "config.train.epochs_student: expected an integer, got 'abc'"),
    ("train.epochs_student=2.5", "config.train.epochs_student: expected an integer, got 2.5"),
    ("train.lr=true", "config.train.lr: expected a number, got True"),
    ("train.batch_size=0", "config.train.batch_size=0: must be at least 1"),
    ("data.max_samples=many", "config.data.max_samples: expected an integer or null, got 'many'"),
    ("data.teacher_clips=some", "config.data.teacher_clips: expected one of 'all', 'paired', got 'some'"),
    ("data.fill_modes=[pad, mirror]", "config.data.fill_modes[1]: expected one of 'pad', 'hold', 'loop'"),
    ("data.hq_dims=4", "config.data.hq_dims: expected one of 2, 3, got 4"),
    ("data.hq_rotate=30", "config.data.hq_rotate=30.0 turns 3D clips"),
    ("seeds=[0, one]", "config.seeds[1]: expected an integer, got 'one'"),
    ("model.student=3", "config.model.student: expected a mapping, got 3"),
    ("train=3", "config.train: expected a mapping, got 3"),
    ("data.window.size=3", "data.window is not a section"),
    ("train.epochs_studnet=3", "config.train.epochs_studnet: unknown key. Did you mean train.epochs_student?"),
    ("train.window=48", "config.train.window: unknown key. Did you mean data.window?"),
    ("sead=1", "config.sead: unknown key. Did you mean seeds?"),
    ("xyzzy=1", "config.xyzzy: unknown key. Known keys in config: augment, data, model, multiset, name"),
])
def test_config_values_are_checked_against_the_type_hints(override, message):
    with pytest.raises(ConfigError) as e:
        load_config(REPO / "train/configs/penn_action.yaml", [override])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_teacher_supervised_contrastive_rewards_class_clusters():
    from train.lib.losses import supervised_part_contrastive
    torch.manual_seed(3)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    centres = _emb(3, 2, 8)
    clustered = F.normalize(centres[labels] + 0.05 * torch.randn(6, 2, 8), dim=-1)
    scattered = _emb(6, 2, 8)
    assert supervised_part_contrastive(clustered, labels) < supervised_part_contrastive(scattered, labels)
    # a sample is never its own positive: one sample per class leaves nothing to pull together
    assert supervised_part_contrastive(_emb(3, 2, 8), torch.tensor([0, 1, 2])).item() == 0.0


def test_class_queue_push_is_a_per_class_fifo_even_with_many_samples_of_a_class_at_once():
    torch.manual_seed(4)
    q = ClassQueue(num_classes=3, size=4, num_parts=2, dim=3)
    reference = {k: [] for k in range(3)}
    for _ in range(6):
        labels = torch.randint(0, 3, (int(torch.randint(1, 12, ())),))
        emb = torch.randn(len(labels), 2, 3)
        q.push(emb, labels)
        for e, k in zip(emb, labels.tolist()):
            reference[k] = (reference[k] + [e])[-4:]
        emb_q, lab_q = q.contents()
        for k in range(3):
            got = emb_q[lab_q == k]
            want = torch.stack(reference[k]) if reference[k] else torch.zeros(0, 2, 3)
            assert len(got) == len(want)
            assert all(any(torch.equal(g, w) for g in got) for w in want), "the newest `size` entries stay"
    state = q.state_dict()
    q2 = ClassQueue(3, 4, 2, 3)
    q2.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(q.contents(), q2.contents())) and (q2.ptr == q.ptr).all()


def test_clip_positives_are_the_partner_or_the_nearest_of_the_class():
    from train.lib.distillation import clip_positives

    bank = F.normalize(torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[0.7, 0.7]], [[-1.0, 0.0]], [[1.0, 0.1]]]), dim=-1)
    bank_labels = torch.tensor([0, 0, 0, 1, 0])
    student = F.normalize(torch.tensor([[[0.0, 1.0]], [[1.0, 0.05]], [[-1.0, 0.2]]]), dim=-1)
    labels = torch.tensor([0, 0, 1])
    pos = clip_positives(student, labels, torch.tensor([0]), bank, bank_labels, torch.ones(2, 1), k=2)
    assert pos[0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0], "paired: its own HQ partner (bank row 0)"
    assert pos[1].tolist() == [0.5, 0.0, 0.0, 0.0, 0.5], "unpaired: the 2 nearest of its class"
    assert pos[2].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0], "fewer than k of its class: those there are"
    loss = part_contrastive_loss(student, labels, bank, bank_labels, torch.ones(2, 1), positive_mask=pos)
    assert torch.isfinite(loss)
