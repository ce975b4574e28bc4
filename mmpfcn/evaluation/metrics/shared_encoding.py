"""One encoding per data sample for all the panoptic metrics of an
evaluator.

mmengine's ``Evaluator.process`` converts a batch's data samples to dicts
once and hands the same dict objects to every metric it lists. The first of
the panoptic metrics to see a sample starts its :class:`SampleEncoding`
and leaves it in the dict under :data:`ENCODING_KEY`; the others find it
there and ask it for the parts they need, so that each part (the GT's RLEs
above all) is computed once, by the first metric's encoder. A metric used
alone, or given ``DetDataSample`` objects (each metric converts them into
a dict of its own), or with another annotation file or label space than
the sample's encoding, starts an encoding of its own.
"""
from concurrent.futures import Future
from typing import Dict, Sequence

from .encoding import PanopticEncoder

#: Key of a sample dict under which its :class:`SampleEncoding` waits.
ENCODING_KEY = '_panoptic_encoding'


class SampleEncoding:
    """The parts of one sample's encoding, each computed once.

    It holds no reference to the sample (whose dict holds it), only the
    futures of the parts asked for so far: one background job per request
    computes the parts not asked for before, in one go (one hand-over to
    the threads, as with a single metric).

    Args:
        encoder (PanopticEncoder): Checks and computes the parts.
        sample (dict): The data sample (``img_id``, ``img_path``).
    """

    def __init__(self, encoder: PanopticEncoder, sample: dict) -> None:
        self.encoder = encoder
        self.info, self.name = encoder.gt.image_info(sample)
        #: per part, the future of the job computing it (a dict of parts)
        self.parts: Dict[str, Future] = {}
        self._pass = encoder.passes
        self._sample_id = id(sample)

    def belongs_to(self, sample: dict) -> bool:
        """Whether it is the encoding of this very dict (not of a dict
        copied from it) in the encoder's evaluation pass that started it
        (a dict processed again in a later pass is encoded anew)."""
        return (self._sample_id == id(sample)
                and self._pass == self.encoder.passes)

    @property
    def header(self) -> dict:
        """``image_id``, ``height`` and ``width`` of the image."""
        return dict(image_id=self.info['id'], height=self.info['height'],
                    width=self.info['width'])

    def request(self, sample: dict, parts: Sequence[str]) -> Dict[str,
                                                                  Future]:
        """The futures of ``parts``, submitting those not asked for yet
        (their inputs checked here) as one job.

        Args:
            sample (dict): The data sample this encoding belongs to.
            parts (Sequence[str]): Names of :data:`~.encoding.PARTS`.

        Returns:
            dict[str, Future]: Per part, the future of the dict of parts
            that holds it.
        """
        missing = [part for part in parts if part not in self.parts]
        if 'sem_stats' in missing and 'gt' not in self.parts \
                and 'gt' not in missing:
            missing.insert(0, 'gt')  # computed before the part needing it
        if missing:
            done: Dict[str, object] = {}
            earlier = self.parts.get('gt')

            def gt() -> dict:
                """The GT part: of an earlier job, or made first here."""
                return done['gt'] if earlier is None else \
                    earlier.result()['gt']

            works = {
                part: self.encoder.job(part, sample, self.info, self.name, gt)
                for part in sorted(missing, key=lambda p: p != 'gt')
            }

            def work() -> dict:
                for part, compute in works.items():
                    done[part] = compute()
                return done

            job = self.encoder.submit(work, self)
            self.parts.update(dict.fromkeys(missing, job))
        return {part: self.parts[part] for part in parts}

    def __reduce__(self) -> tuple:
        # A dump of the sample dict (e.g. mmdet's DumpDetResults listed
        # after the metrics) keeps None here, not the futures.
        return type(None), ()


def sample_encoding(sample: dict,
                    encoder: PanopticEncoder) -> SampleEncoding:
    """The sample's shared encoding if ``encoder`` can use it, else a new
    one, left in the sample for the next metrics unless the sample holds
    the (current) encoding of another annotation file or label space."""
    shared = sample.get(ENCODING_KEY)
    if shared is not None and shared.belongs_to(sample):
        if encoder.encodes_like(shared.encoder):
            return shared
        return SampleEncoding(encoder, sample)
    encoding = SampleEncoding(encoder, sample)
    sample[ENCODING_KEY] = encoding
    return encoding
